-- Stored VAT totals (schemas.billing.INVOICE_VAT), with the invoice's test flag.
SELECT
    i.run_id, i.invoice_id, v.vat_code, v.vat_rate,
    cents_to_amount(v.net_cents) AS net_amount, cents_to_amount(v.vat_cents) AS vat_amount, v.note, i.is_test
FROM bill_vat AS v
JOIN bill_invoices AS i USING (contract_id)
