-- The run's adjustment lines (schemas.billing.ADJUSTMENT_SCHEMA): minimum revenue and cost cap of
-- each period it settles, as computed on the whole period (bill_adjustments_full, from
-- pipeline.price.usage_adjustments), less what earlier runs billed of them for that period
-- (st_invoice_items), per contract, period, kind and VAT rate. Only a difference goes on the
-- invoice: a run never bills an adjustment twice, and late usage corrects an earlier one.
-- Nothing is billed while a contract is paused (DOMAIN §2): a period paused on every day the
-- contract is active in it (bill_contract_days: from the later of start_date and billing_from to
-- end_date, or to the last module's end once every module ended; all its days when it has none) has no
-- minimum revenue (usage rated in it is still billed, and the cost cap still caps it).
WITH active AS (
    SELECT a.contract_id, a.period,
           greatest(period_start(a.period), d.active_from) AS first_active,
           least(last_day(period_start(a.period)), coalesce(d.active_until, last_day(period_start(a.period)))) AS last_active
    FROM bill_adjustment_periods AS a
    JOIN bill_contract_days AS d USING (contract_id)
),
checked AS (
    -- the days a pause must cover: the contract's active days in the period; a period with usage
    -- but no active day (usage after the last module ended) is paused only when all its days are
    -- (a pause long before changes nothing, a pause over the whole month bills no minimum)
    SELECT contract_id, period,
           CASE WHEN first_active <= last_active THEN first_active ELSE period_start(period) END AS first_day,
           CASE WHEN first_active <= last_active THEN last_active ELSE last_day(period_start(period)) END AS last_day
    FROM active
),
paused_periods AS (
    SELECT p.contract_id, p.period
    FROM checked AS p
    JOIN bil_pauses AS z ON z.contract_id = p.contract_id
    GROUP BY p.contract_id, p.period, p.first_day, p.last_day
    HAVING sum(overlap_days(p.first_day, p.last_day, z.paused_from, z.paused_through))
           >= date_diff('day', p.first_day, p.last_day) + 1
),
computed AS (
    SELECT contract_id, period, article_id, vat_rate,
           arg_max(tariff_id, abs(net_amount)) AS tariff_id, any_value(article_name) AS article_name,
           sum(net_amount) AS net_amount, any_value(vat_code) AS vat_code, any_value(currency) AS currency,
           string_agg(note, '; ' ORDER BY tariff_id) AS note
    FROM bill_adjustments_full AS a
    WHERE NOT (a.article_id = 'MIN_REVENUE' AND (a.contract_id, a.period) IN (SELECT (contract_id, period) FROM paused_periods))
    GROUP BY contract_id, period, article_id, vat_rate
),
earlier AS (
    SELECT contract_id, period, article_id, vat_rate, any_value(article_name) AS article_name,
           sum(net_amount) AS net_amount, any_value(vat_code) AS vat_code, any_value(currency) AS currency
    FROM st_invoice_items
    SEMI JOIN bill_adjustment_periods USING (contract_id, period)
    WHERE line_kind = 'adjustment'
    GROUP BY contract_id, period, article_id, vat_rate
),
diff AS (
    SELECT
        contract_id, period, article_id, vat_rate,
        coalesce(c.tariff_id, k.tariff_id) AS tariff_id,
        coalesce(c.article_name, e.article_name) AS article_name,
        CAST(coalesce(c.net_amount, 0) - coalesce(e.net_amount, 0) AS DECIMAL(18,2)) AS net_amount,
        coalesce(c.vat_code, e.vat_code) AS vat_code,
        coalesce(c.currency, e.currency) AS currency,
        CASE WHEN e.net_amount IS NULL THEN c.note
             ELSE coalesce(c.note, 'none due on the whole period') || '; less ' || CAST(e.net_amount AS VARCHAR) || ' '
                  || e.currency || ' billed on earlier invoices'
        END AS note
    FROM computed AS c
    FULL JOIN earlier AS e USING (contract_id, period, article_id, vat_rate)
    JOIN cat_contracts AS k USING (contract_id)
)
SELECT contract_id, tariff_id, period, article_id, article_name, net_amount, vat_rate, vat_code, currency, note
FROM diff
WHERE net_amount <> 0
ORDER BY contract_id, period, tariff_id, article_id DESC, vat_rate DESC
