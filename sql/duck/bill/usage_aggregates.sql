-- The run's usage per contract, tariff, period and article (the shape of duck/invoice_lines.sql),
-- service dates in the contract's time zone, with the contract's `variable_fixed` position for the article when one is active on the
-- line's first day: its price replaces the rated amounts. `charged` = quantity less free units.
WITH agg AS (
    SELECT
        contract_id, tariff_id, period, article_id,
        any_value(unit) AS unit,
        CAST(count(*) AS BIGINT) AS records,
        CAST(sum(quantity) AS BIGINT) AS quantity,
        CAST(sum(charged) AS BIGINT) AS charged,
        sum(amount_micro) AS amount_micro,
        CAST(timezone(any_value(timezone), min(start_time)) AS DATE) AS service_from,
        CAST(timezone(any_value(timezone), max(start_time)) AS DATE) AS service_to
    FROM bill_usage
    GROUP BY contract_id, tariff_id, period, article_id
),
fixed AS (
    SELECT a.contract_id, a.tariff_id, a.period, a.article_id, p.position_id
    FROM agg AS a
    JOIN bil_positions AS p
        ON p.contract_id = a.contract_id AND p.article_id = a.article_id AND p.billing_type = 'variable_fixed'
        AND (p.start_date IS NULL OR p.start_date <= a.service_from)
        AND (p.end_date IS NULL OR p.end_date >= a.service_from)
    QUALIFY row_number() OVER (PARTITION BY a.contract_id, a.tariff_id, a.period, a.article_id ORDER BY p.position_id) = 1
)
SELECT a.*, f.position_id AS fixed_position_id
FROM agg AS a
LEFT JOIN fixed AS f USING (contract_id, tariff_id, period, article_id)
