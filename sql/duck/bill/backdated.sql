-- Contracts the run refuses as backdated (docs/billing.md, "Backdating"): a contract without
-- contract_terms.entered_on counts as entered by its first invoice, so one never invoiced yet
-- (no invoice of it, real or test) whose earliest fee is due from a day (a one-time or recurring
-- position's first active day: the later of its start, else the contract's, and billing_from)
-- more than two years before the run's last day would get those years of fees at once. Usage
-- is what it is, and a contract without such fees is never refused. With entered_on, the catalog
-- check (pipeline/catalog/billing.py) applies instead.
-- `reason` is what billing_problems and the refusal of a single invoice say.
WITH fees AS (
    -- a position with no active day (bill_position_days: cancelled before it started, or starting
    -- after its contract or module ended) bills nothing, so it backdates nothing
    SELECT p.contract_id, d.active_from, d.active_to
    FROM bil_positions AS p
    SEMI JOIN bill_scope USING (contract_id)
    JOIN bill_position_days AS d USING (position_id)
    LEFT JOIN bil_intervals AS i ON i.interval = p.interval
    WHERE p.billing_type IN ('one_time', 'recurring') AND coalesce(i.bills, TRUE)
),
first_fees AS (
    SELECT contract_id, min(active_from) AS first_day
    FROM fees
    WHERE active_to IS NULL OR active_from <= active_to
    GROUP BY contract_id
)
SELECT
    f.contract_id,
    'contract ' || f.contract_id || ' has fees due from ' || strftime(f.first_day, '%Y-%m-%d')
        || ', more than two years before ' || strftime(CAST($until AS DATE), '%Y-%m-%d')
        || ', and no invoice yet: its first invoice would bill them all. Set contract_terms.billing_from'
        || ' to the day this system takes over its billing, or entered_on to the day it was entered'
        || ' (then the catalog check applies)' AS reason
FROM first_fees AS f
LEFT JOIN bil_contract_terms AS t USING (contract_id)
WHERE t.entered_on IS NULL
  AND f.first_day < CAST(CAST($until AS DATE) - INTERVAL 2 YEAR AS DATE)
  AND f.contract_id NOT IN (SELECT contract_id FROM st_invoices)
ORDER BY f.contract_id
