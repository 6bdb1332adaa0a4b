-- The usage records the run billed, each with its invoice (schemas.billing.BILLED_USAGE).
SELECT i.run_id, i.invoice_id, u.contract_id, u.record_key, u.rated_run_id, i.is_test
FROM bill_usage AS u
JOIN bill_invoices AS i USING (contract_id)
