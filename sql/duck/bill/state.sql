-- What earlier committed billing runs already covered, from their history (st_history,
-- st_invoices registered by pipeline.io.billing_store): billed-until per
-- position and the last number used per invoice sequence. Billed-until is the last day billed: no
-- earlier period waits unbilled, since charges.sql holds a position's later periods back behind an
-- unpriced one. Billed-from is the first day of the first period billed (paused or not): a start
-- moved earlier after that leaves days before it, which fee_requests.sql bills then.
CREATE OR REPLACE TEMP TABLE st_position_billed AS
SELECT position_id, max(period_end) AS billed_until, min(period_start) AS billed_from
FROM st_history
WHERE billing_type IN ('one_time', 'recurring')
GROUP BY position_id;

CREATE OR REPLACE TEMP TABLE st_last_numbers AS
SELECT sequence_id, max(sequence_no) AS last_no
FROM st_invoices
GROUP BY sequence_id;
