-- A billing run's row of billing_runs, its counts: invoices, test-account invoices, and the net
-- total of the real invoices only (test accounts' invoices are kept apart).
SELECT
    count(*) FILTER (NOT is_test) AS invoices,
    count(*) FILTER (is_test) AS test_invoices,
    coalesce(sum(net_total) FILTER (NOT is_test), 0)::DECIMAL(18,2) AS net_total
FROM bill_out_invoices
