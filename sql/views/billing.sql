-- Convenience views for analysts over the billing views pipeline.io.billing_store publishes
-- (invoices, invoice_items, invoice_vat, billing_history, billed_usage, billing_runs, …).

-- Per contract: its last invoice, how far it is billed, how many invoices and how much.
CREATE OR REPLACE VIEW contract_billing_state AS
SELECT
    contract_id,
    last(invoice_id ORDER BY invoice_date, sequence_no) AS last_invoice_id,
    max(billed_until) AS billed_until,
    count(*) AS invoices,
    sum(net_total) AS net_total
FROM invoices
GROUP BY contract_id;

-- Per position: the last day billed and the last invoice it was on, the latest by invoice date
-- and number (days caught up later go on a later invoice); its billing history is
-- billing_history itself.
CREATE OR REPLACE VIEW position_billing_state AS
SELECT
    h.contract_id,
    h.position_id,
    max(h.period_end) AS billed_until,
    last(h.invoice_id ORDER BY i.invoice_date, i.sequence_no) FILTER (WHERE h.invoice_id IS NOT NULL) AS last_invoice_id,
    count(DISTINCT h.invoice_id) AS invoices
FROM billing_history AS h
LEFT JOIN invoices AS i USING (invoice_id)
GROUP BY h.contract_id, h.position_id;

-- Gross, net and VAT per period run and sequence, to check numbering and totals at a glance.
CREATE OR REPLACE VIEW invoice_numbering AS
SELECT
    sequence_id,
    min(sequence_no) AS first_no,
    max(sequence_no) AS last_no,
    count(*) AS invoices,
    max(sequence_no) - min(sequence_no) + 1 = count(*) AS gap_free
FROM invoices
GROUP BY sequence_id;
