-- The billing periods (contract, period) whose minimum revenue and cost cap the run settles:
-- periods that have ended by $until (a single invoice in the middle of a month leaves that
-- month to the run that closes it) with usage billed by this run, or billed so far only by runs
-- that ended before the period did (so no run has settled it yet). Earlier runs' lines come
-- from st_invoice_items and st_invoices (real and test).
WITH billed AS (
    SELECT contract_id, period, NULL AS billed_until
    FROM bill_candidates
    WHERE line_kind = 'usage'
    UNION ALL
    SELECT i.contract_id, i.period, v.billed_until
    FROM st_invoice_items AS i
    JOIN st_invoices AS v ON v.invoice_id = i.invoice_id
    SEMI JOIN bill_scope AS s ON s.contract_id = i.contract_id
    WHERE i.line_kind = 'usage'
),
periods AS (
    SELECT contract_id, period, last_day(period_start(period)) AS period_end,
           bool_or(billed_until IS NULL) AS billed_now, max(billed_until) AS settled_until
    FROM billed
    GROUP BY contract_id, period
)
SELECT contract_id, period
FROM periods
WHERE period_end <= CAST($until AS DATE) AND (billed_now OR settled_until < period_end)
