-- Usage invoice lines: one per contract, billing period and article. The line amount is the sum
-- of its records' exact micro-unit amounts, rounded once to cents (docs/money.md). The VAT rate
-- travels on every line: 0 for customers under reverse charge or not taxable (vat_code says
-- which); else the article's override for the tariff, its override for every tariff
-- (vat_overrides.csv), its own rate (articles.csv), the tariff's rate, as valid on the period's
-- first day. Minimum revenue and cost cap are not here: they act on a whole period's lines
-- when it is billed (pipeline.price.usage_adjustments).
WITH by_group AS (
    SELECT group_key(contract_no, ta_no, month_idx) AS gk,
           count(*) AS records, sum(quantity) AS quantity, sum(free_quantity) AS free_quantity,
           sum(amount_micro) AS amount_micro
    FROM pricing
    WHERE amount_micro IS NOT NULL
    GROUP BY 1
),
by_ta AS (
    SELECT CAST(gk >> 36 AS INTEGER) AS contract_no, CAST((gk >> 16) & 1048575 AS INTEGER) AS ta_no,
           CAST(gk & 65535 AS INTEGER) AS month_idx, records, quantity, free_quantity, amount_micro
    FROM by_group
),
months AS (
    -- a run spans a few periods: their texts and first days once each, not per line
    SELECT month_idx, period_text(month_idx) AS period, make_date(month_idx // 12, month_idx % 12 + 1, 1) AS first_day
    FROM (SELECT DISTINCT month_idx FROM by_ta)
),
lines AS (
    SELECT b.*, m.period, m.first_day, c.contract_id, c.customer_id, c.vat_code, ta.tariff_id, ta.article_id,
           ta.article_name, ta.unit
    FROM by_ta AS b
    JOIN months AS m USING (month_idx)
    JOIN contract_dim AS c USING (contract_no)
    JOIN ta_dim AS ta USING (ta_no)
)
SELECT
    $run_id AS run_id,
    l.period,
    l.contract_id, l.customer_id, l.tariff_id, l.article_id, l.article_name, l.unit,
    CAST(l.records AS BIGINT) AS records,
    CAST(l.quantity AS BIGINT) AS quantity,
    CAST(l.free_quantity AS BIGINT) AS free_quantity,
    micro_to_cents(l.amount_micro) AS net_amount,
    CAST(CASE WHEN l.vat_code = 'normal' THEN coalesce(vt.vat_rate, va.vat_rate, a.vat_rate, t.vat_rate) ELSE 0 END AS DECIMAL(6,4)) AS vat_rate,
    l.vat_code,
    t.currency
FROM lines AS l
JOIN cat_tariffs AS t USING (tariff_id)
JOIN cat_articles AS a USING (article_id)
LEFT JOIN pr_vat_overrides AS vt
    ON vt.article_id = l.article_id AND vt.tariff_id = l.tariff_id
    AND valid_on(vt.valid_from, vt.valid_until, l.first_day)
LEFT JOIN pr_vat_overrides AS va
    ON va.article_id = l.article_id AND va.tariff_id IS NULL
    AND valid_on(va.valid_from, va.valid_until, l.first_day)
