-- Sequences this run would continue after an invoice dated later (docs/billing.md, "Invoice
-- numbers"): within a sequence the numbers follow the invoice dates, so a run for an earlier period
-- made after a later one needs an invoice date on or after the latest one (named: the latest dated, then
-- numbered, even where an older release left the order broken). Test accounts' invoices
-- are never real: their sequence's order stops no run (a test preview dated ahead stopped every real contract's).
WITH latest AS (
    SELECT sequence_id, arg_max(invoice_id, (invoice_date, sequence_no)) AS invoice_id, max(invoice_date) AS invoice_date
    FROM st_invoices
    GROUP BY sequence_id
)
SELECT DISTINCT i.sequence_id, l.invoice_id, l.invoice_date
FROM bill_out_invoices AS i
JOIN latest AS l USING (sequence_id)
WHERE l.invoice_date > i.invoice_date AND NOT i.is_test
ORDER BY ALL
