-- Billing history (schemas.billing.BILLING_HISTORY): every one-time and recurring fee the run
-- covered, a period paused throughout included (no invoice then, so it is never billed later),
-- and every every-time fee that went on an invoice. One row per fee and period: the price
-- parts of a period (charges.sql) are added up (days charged, net of the rounded lines).
WITH fees AS (
    SELECT
        contract_id, position_id, billing_type, line_kind, fee_from,
        min(bill_from) AS bill_from, max(bill_to) AS bill_to,
        sum(days_charged) AS days_charged, sum(net_cents) AS net_cents
    FROM bill_charges
    GROUP BY contract_id, position_id, billing_type, line_kind, fee_from
)
SELECT
    $run_id AS run_id, i.invoice_id, f.contract_id, f.position_id, f.billing_type,
    f.bill_from AS period_start, f.bill_to AS period_end, CAST(f.days_charged AS BIGINT) AS days_charged,
    cents_to_amount(f.net_cents) AS net_amount,
    coalesce(i.is_test, cu.is_test) AS is_test
FROM fees AS f
LEFT JOIN bill_invoices AS i USING (contract_id)
JOIN cat_contracts AS c ON c.contract_id = f.contract_id
JOIN cat_customers AS cu ON cu.customer_id = c.customer_id
WHERE f.line_kind <> 'every_time' OR i.invoice_id IS NOT NULL
