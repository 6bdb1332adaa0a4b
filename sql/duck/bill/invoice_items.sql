-- Stored invoice lines (schemas.billing.INVOICE_ITEMS), with the invoice's test flag.
SELECT
    i.run_id, i.invoice_id, CAST(l.line_no AS BIGINT) AS line_no, l.contract_id, l.line_kind, l.billing_type,
    l.interval, l.position_id, l.article_id, l.article_name, l.period, l.service_from, l.service_to,
    l.records, l.quantity, l.unit, l.unit_price, l.price_per, l.days_charged, l.days_basis, l.price_source,
    cents_to_amount(l.net_cents) AS net_amount, l.vat_rate, l.vat_code, l.currency, l.note, i.is_test
FROM bill_lines AS l
JOIN bill_invoices AS i USING (contract_id)
