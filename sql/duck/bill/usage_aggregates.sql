-- The run's usage per contract, tariff, period and article (the shape of duck/invoice_lines.sql),
-- service dates in the contract's time zone. Usage of an article the contract has a
-- `variable_fixed` position for comes per local day instead, with the position active on that
-- day (the lowest position_id of several; none: the rated amounts stay): duck/bill/usage_lines.sql
-- prices each day at the position's price of that day and sums the days into lines, so a
-- position that starts, ends or changes its price inside the period counts from that day on.
-- `charged` = quantity less free units. Only those records are converted to local days.
WITH fixed_keys AS (
    SELECT DISTINCT contract_id, article_id FROM bil_positions WHERE billing_type = 'variable_fixed'
),
lines AS (
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
    ANTI JOIN fixed_keys USING (contract_id, article_id)
    GROUP BY contract_id, tariff_id, period, article_id
),
days AS (
    SELECT
        contract_id, tariff_id, period, article_id,
        any_value(unit) AS unit,
        CAST(count(*) AS BIGINT) AS records,
        CAST(sum(quantity) AS BIGINT) AS quantity,
        CAST(sum(charged) AS BIGINT) AS charged,
        sum(amount_micro) AS amount_micro,
        CAST(timezone(timezone, start_time) AS DATE) AS service_from
    FROM bill_usage
    SEMI JOIN fixed_keys USING (contract_id, article_id)
    GROUP BY contract_id, tariff_id, period, article_id, service_from
),
positioned AS (
    SELECT d.*, d.service_from AS service_to, min(p.position_id) AS fixed_position_id
    FROM days AS d
    LEFT JOIN bil_positions AS p
        ON p.contract_id = d.contract_id AND p.article_id = d.article_id AND p.billing_type = 'variable_fixed'
        AND (p.start_date IS NULL OR p.start_date <= d.service_from)
        AND (p.end_date IS NULL OR p.end_date >= d.service_from)
    GROUP BY ALL
)
SELECT *, CAST(NULL AS VARCHAR) AS fixed_position_id FROM lines
UNION ALL BY NAME
SELECT * FROM positioned
