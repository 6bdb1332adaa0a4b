-- The run's usage per contract, tariff, period and article (the shape of the usage invoice lines, pipeline.bill),
-- service dates in the contract's time zone. Usage of an article the contract has a
-- `variable_fixed` position for comes per local day instead, with the position active on that
-- day (the lowest position_id of several; none: the rated amounts stay): duck/bill/usage_lines.sql
-- prices each day at the position's price of that day and sums the days into lines, so a
-- position that starts, ends or changes its price inside the period counts from that day on.
-- `charged` = quantity less free units. Only those records are converted to local days.
WITH fixed_keys AS (
    SELECT DISTINCT contract_id, article_id, true AS fixed FROM bil_positions WHERE billing_type = 'variable_fixed'
),
grouped AS (
    SELECT
        contract_id, tariff_id, period, article_id,
        CASE WHEN f.fixed THEN CAST(timezone(u.timezone, u.start_time) AS DATE) END AS day,
        any_value(unit) AS unit,
        CAST(count(*) AS BIGINT) AS records,
        CAST(sum(quantity) AS BIGINT) AS quantity,
        CAST(sum(charged) AS BIGINT) AS charged,
        sum(amount_micro) AS amount_micro,
        CAST(timezone(any_value(u.timezone), min(u.start_time)) AS DATE) AS service_from,
        CAST(timezone(any_value(u.timezone), max(u.start_time)) AS DATE) AS service_to
    FROM bill_usage AS u
    LEFT JOIN fixed_keys AS f USING (contract_id, article_id)
    GROUP BY contract_id, tariff_id, period, article_id, day
)
SELECT g.* EXCLUDE (day), min(p.position_id) AS fixed_position_id
FROM grouped AS g
LEFT JOIN bil_positions AS p
    ON g.day IS NOT NULL AND p.contract_id = g.contract_id AND p.article_id = g.article_id AND p.billing_type = 'variable_fixed'
    AND (p.start_date IS NULL OR p.start_date <= g.day)
    AND (p.end_date IS NULL OR p.end_date >= g.day)
GROUP BY ALL
