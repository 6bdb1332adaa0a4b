-- Every line the run may bill, named and taxed in one place: fees (every-time fees of all
-- contracts; lines.sql keeps them only on invoices made anyway) and usage.
-- VAT: the rate on the line's tax day (sql/duck/vat_rate.sql); 0 for customers under reverse
-- charge or not taxable, whose treatment travels on the line as vat_code. A fee's tax day is its first day of service; a usage line's
-- is its period's first day, as line_terms.sql taxes rated usage (its service dates are
-- local days of the contract's zone, which may lie past the UTC period).
-- A fee period billed at more than one price (charges.sql) says so in the note of each part.
WITH lines AS (
    SELECT
        contract_id, line_kind, billing_type, interval, position_id, article_id, tariff_id,
        strftime(period_start, '%Y-%m') AS period,
        bill_from AS service_from,
        bill_to AS service_to,
        CAST(0 AS BIGINT) AS records,
        quantity,
        unit,
        unit_price,
        CAST(NULL AS BIGINT) AS price_per,
        days_charged,
        days_basis,
        price_source,
        net_cents,
        nullif(concat_ws('; ',
            CASE WHEN price_parts > 1
                 THEN 'price ' || price_part || ' of ' || price_parts || ' in the period '
                      || strftime(period_start, '%Y-%m-%d') || ' to ' || strftime(period_end, '%Y-%m-%d')
            END,
            CASE WHEN days_paused > 0 THEN CAST(days_paused AS VARCHAR) || ' paused days not charged' END
        ), '') AS note
    FROM bill_charges
    UNION ALL
    SELECT
        contract_id, 'usage', CASE WHEN fixed_price IS NOT NULL THEN 'variable_fixed' ELSE 'variable' END, NULL,
        fixed_position_id, article_id, tariff_id, period, service_from, service_to, records, quantity, unit,
        fixed_price, price_per, NULL, NULL, price_source, net_cents, NULL
    FROM bill_usage_lines
),
taxed AS (
    SELECT *, CASE WHEN line_kind = 'usage' THEN period_start(period) ELSE service_from END AS tax_day FROM lines
)
SELECT
    l.* EXCLUDE (tax_day),
    c.customer_id,
    coalesce(ar.alt_name, ar.name) AS article_name,
    CAST(CASE WHEN cu.vat_treatment = 'normal' THEN vat_rate_of(l.article_id, l.tariff_id, l.tax_day, ar.vat_rate, t.vat_rate) ELSE 0 END
         AS DECIMAL(6,4)) AS vat_rate,
    cu.vat_treatment AS vat_code,
    t.currency
FROM taxed AS l
JOIN cat_contracts AS c ON c.contract_id = l.contract_id
JOIN cat_customers AS cu ON cu.customer_id = c.customer_id
JOIN cat_articles AS ar ON ar.article_id = l.article_id
JOIN cat_tariffs AS t ON t.tariff_id = l.tariff_id
