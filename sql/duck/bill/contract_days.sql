-- Each contract's active days for its minimum revenue (docs/billing.md, "Usage on invoices"):
-- from the later of start_date and billing_from to `active_until`, the earlier of its end_date
-- and, once every module of it has an end date, its last module's end (a cancelled contract owes
-- no minimum after its modules ended); NULL: open. adjustment_periods.sql settles a period
-- without usage for a contract active on one of its days; adjustments.sql drops the minimum of a
-- period paused on every one of them.
WITH modules_end AS (
    SELECT contract_id, CASE WHEN bool_and(end_date IS NOT NULL) THEN max(end_date) END AS end_date
    FROM bil_modules
    GROUP BY contract_id
)
SELECT
    c.contract_id,
    greatest(c.start_date, coalesce(t.billing_from, c.start_date)) AS active_from,
    -- least ignores NULL: the earlier of the two ends, or the one there is
    least(c.end_date, m.end_date) AS active_until
FROM cat_contracts AS c
LEFT JOIN modules_end AS m USING (contract_id)
LEFT JOIN bil_contract_terms AS t USING (contract_id)
