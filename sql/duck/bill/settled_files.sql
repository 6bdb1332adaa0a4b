-- The rated_usage files the run settles (billing_store.SETTLED_USAGE): files not settled yet
-- (rated_usage_files) every record_key of which is billed once the run commits, by an earlier
-- run (st_billed_usage) or by this one (bill_out_billed_usage), real or test. Later runs do not
-- read them: usage_records.sql would take none of their records (docs/billing.md).
WITH billed AS (
    SELECT record_key FROM st_billed_usage
    UNION ALL
    SELECT record_key FROM bill_out_billed_usage
),
open AS (
    SELECT DISTINCT k.filename
    FROM bill_unsettled_keys AS k
    ANTI JOIN billed AS b ON b.record_key = k.record_key
)
SELECT f.path, f.size, f.mtime_ns, f.inode
FROM rated_usage_files AS f
ANTI JOIN open AS o ON o.filename = f.file
WHERE NOT f.settled
ORDER BY f.path
