-- The price parts of each fee in bill_fee_requests (docs/billing.md, "Prices"): a recurring
-- fee's billed days [bill_from, bill_to] are cut on every day inside them on which its price
-- may change: a price version of the position (price, index, override) starts or ends, its
-- module's tariff changes, or a list price of its article in a tariff it can run under (its
-- contract's or its module's) starts or ends. A part runs from `part_from` (the day its price
-- is looked up on, position_prices.sql) to `part_to`. One-time and every-time fees are one
-- part on their first day (fee_from). Cuts that change nothing (two adjacent versions at one
-- price) are joined again in charges.sql.
WITH req AS (
    SELECT r.position_id, r.fee_from, r.period_start, r.contract_id, r.line_kind, r.bill_from, r.bill_to,
           p.module_id, p.article_id
    FROM bill_fee_requests AS r
    JOIN bil_positions AS p USING (position_id)
),
recurring AS (
    SELECT * FROM req WHERE line_kind = 'recurring'
),
version_days AS (
    SELECT position_id, unnest([valid_from, valid_until]) AS day FROM bil_position_prices
),
tariff_days AS (
    SELECT module_id, unnest([valid_from, valid_until]) AS day FROM bil_module_tariffs
),
position_tariffs AS (
    -- the tariffs a position can run under: its module's, and its contract's
    SELECT r.position_id, r.fee_from, r.article_id, c.tariff_id
    FROM recurring AS r JOIN cat_contracts AS c USING (contract_id)
    UNION
    SELECT r.position_id, r.fee_from, r.article_id, mt.tariff_id
    FROM recurring AS r JOIN bil_module_tariffs AS mt USING (module_id)
),
list_days AS (
    SELECT tariff_id, article_id, unnest([valid_from, valid_until]) AS day FROM cat_prices
),
cuts AS (
    SELECT position_id, fee_from, fee_from AS day FROM req
    UNION
    SELECT r.position_id, r.fee_from, v.day
    FROM recurring AS r JOIN version_days AS v USING (position_id)
    WHERE v.day > r.bill_from AND v.day <= r.bill_to
    UNION
    SELECT r.position_id, r.fee_from, v.day
    FROM recurring AS r JOIN tariff_days AS v USING (module_id)
    WHERE v.day > r.bill_from AND v.day <= r.bill_to
    UNION
    SELECT r.position_id, r.fee_from, v.day
    FROM recurring AS r
    JOIN position_tariffs AS t USING (position_id, fee_from)
    JOIN list_days AS v ON v.tariff_id = t.tariff_id AND v.article_id = t.article_id
    WHERE v.day > r.bill_from AND v.day <= r.bill_to
)
SELECT
    r.contract_id,
    r.line_kind,
    c.position_id,
    c.fee_from,
    r.period_start,
    CAST(c.day AS DATE) AS part_from,
    CAST(coalesce(lead(c.day) OVER (PARTITION BY c.position_id, c.fee_from ORDER BY c.day) - 1, r.bill_to) AS DATE) AS part_to
FROM cuts AS c
JOIN req AS r USING (position_id, fee_from)
