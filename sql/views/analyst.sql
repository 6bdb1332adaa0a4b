-- Convenience views for analysts, over the per-table views publish_views creates. Sums of
-- integers are BIGINT, as the columns they sum (DuckDB's sum gives HUGEINT, which pandas reads as floats).

-- Usage totals per period, contract, tariff and article across all runs, as an invoice bills
-- them (sql/duck/bill/usage_lines.sql): the records' exact amounts summed, then rounded once,
-- half away from zero, to cents. (Summing each run's rounded invoice lines drifted by a cent per
-- run once a period's usage spans several runs.)
CREATE OR REPLACE VIEW usage_totals AS
WITH names AS (SELECT article_id, any_value(article_name) AS article_name FROM invoice_lines GROUP BY article_id)
SELECT r.period, r.contract_id, r.customer_id, r.tariff_id, r.article_id, n.article_name,
       count(*) AS records, CAST(sum(r.quantity) AS BIGINT) AS quantity, CAST(round(sum(r.amount), 2) AS DECIMAL(18, 2)) AS net_amount
FROM rated_usage AS r
LEFT JOIN names AS n USING (article_id)
GROUP BY ALL;

-- Conservation per run: every input record in exactly one outcome.
CREATE OR REPLACE VIEW run_outcomes AS
SELECT run_id,
       CAST(sum(records) FILTER (outcome = 'rated') AS BIGINT) AS rated,
       CAST(sum(records) FILTER (outcome = 'non_billable') AS BIGINT) AS non_billable,
       CAST(sum(records) FILTER (outcome = 'rejected') AS BIGINT) AS rejected,
       CAST(sum(records) FILTER (outcome = 'unassigned') AS BIGINT) AS unassigned,
       CAST(sum(records) FILTER (outcome = 'unrateable') AS BIGINT) AS unrateable,
       CAST(sum(records) FILTER (outcome = 'duplicate') AS BIGINT) AS duplicate,
       CAST(sum(records) AS BIGINT) AS total
FROM ledger
GROUP BY run_id;

-- Top unassigned subscriber IDs by count, then volume and duration: what `rating unassigned`
-- lists (pipeline.assign.report.top_unassigned), with the reason of the latest record.
CREATE OR REPLACE VIEW top_unassigned AS
SELECT id_type, subscriber_id, count(*) AS records,
       CAST(coalesce(sum(duration_s), 0) AS BIGINT) AS duration_s, CAST(coalesce(sum(volume_bytes), 0) AS BIGINT) AS volume_bytes,
       min(start_time) AS first_seen, max(start_time) AS last_seen, count(DISTINCT run_id) AS runs,
       arg_max(reason, start_time) AS reason
FROM unassigned
GROUP BY id_type, subscriber_id
ORDER BY records DESC, volume_bytes DESC, duration_s DESC, subscriber_id;

-- Every accepted usage record, in the canonical shape, whatever its outcome: what
-- re-rating reads. Each record is stored whole in exactly one of these tables.
CREATE OR REPLACE VIEW usage AS
SELECT run_id, record_key, source, source_file, source_line, id_type, subscriber_id, counterparty,
       start_time, duration_s, volume_bytes, article_key, billable, 'rated' AS outcome FROM rated_usage
UNION ALL BY NAME
SELECT run_id, record_key, source, source_file, source_line, id_type, subscriber_id, counterparty,
       start_time, duration_s, volume_bytes, article_key, billable, 'unassigned' AS outcome FROM unassigned
UNION ALL BY NAME
SELECT run_id, record_key, source, source_file, source_line, id_type, subscriber_id, counterparty,
       start_time, duration_s, volume_bytes, article_key, billable, 'unrateable' AS outcome FROM unrateable
UNION ALL BY NAME
SELECT run_id, record_key, source, source_file, source_line, id_type, subscriber_id, counterparty,
       start_time, duration_s, volume_bytes, article_key, billable, 'non_billable' AS outcome FROM non_billable;
