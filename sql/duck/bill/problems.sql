-- What kept a fee off the run's invoices, or a fixed usage price from applying, or a backdated
-- contract out of the run (backdated.sql), and what to do.
-- A fee is reported for each of its price parts (fee_parts.sql) that has no price; a priced
-- recurring period held back behind such a fee of its position (charges.sql), once.
WITH unpriced AS (
    SELECT DISTINCT f.position_id, f.fee_from
    FROM bill_fee_parts AS f
    JOIN bill_prices AS p ON p.position_id = f.position_id AND p.day = f.part_from
    WHERE p.price IS NULL
)
SELECT
    $run_id AS run_id, p.contract_id, p.position_id, 'price required' AS rule,
    'no price for ' || r.line_kind || ' position ' || p.position_id || ' (article ' || p.article_id || ') on '
        || strftime(p.day, '%Y-%m-%d') || ' in tariff ' || coalesce(p.tariff_id, '?')
        || ': add a list price to prices.csv or a price version to position_prices.csv; '
        || CASE r.line_kind
               WHEN 'every_time' THEN 'an every-time fee belongs to its invoice: this one goes without it, later invoices take it once priced'
               ELSE 'it is billed once priced'
           END AS reason
FROM bill_prices AS p
JOIN (SELECT DISTINCT position_id, part_from, line_kind FROM bill_fee_parts) AS r
    ON r.position_id = p.position_id AND r.part_from = p.day
WHERE p.price IS NULL
UNION ALL
SELECT
    $run_id, r.contract_id, r.position_id, 'price required',
    'recurring position ' || r.position_id || ' (article ' || r.article_id || ') for '
        || strftime(r.bill_from, '%Y-%m-%d') || ' to ' || strftime(r.bill_to, '%Y-%m-%d')
        || ' waits for its earlier period without a price: it is billed with it once that is priced'
FROM bill_fee_requests AS r
ANTI JOIN bill_charges AS c USING (position_id, fee_from)
ANTI JOIN unpriced AS u USING (position_id, fee_from)
WHERE r.line_kind = 'recurring'
UNION ALL
SELECT
    $run_id, p.contract_id, p.position_id, 'price required',
    'no price for variable_fixed position ' || p.position_id || ' on ' || strftime(p.day, '%Y-%m-%d')
        || ': its usage was billed at the rated amounts'
FROM bill_prices AS p
SEMI JOIN bill_usage_agg AS a ON a.fixed_position_id = p.position_id AND a.service_from = p.day
WHERE p.price IS NULL
UNION ALL
SELECT $run_id, contract_id, NULL, 'backdated more than two years', reason
FROM bill_backdated
