-- Stored shape of unassigned usage: the canonical record and why no contract matched
-- (docs/assignment.md). Reads `outcome_rows` (their rows of `assignment`, sql/duck/out/unassigned_rows.sql),
-- `usage_rows` (those records of the batch) and `id_formats` (the format each id_type expects).
SELECT
    $run_id AS run_id,
    u.* EXCLUDE (rid),
    CASE
        WHEN NOT a.id_parsed
            THEN 'subscriber_id ''' || u.subscriber_id || ''' is not a valid ' || u.id_type || ' identifier: expected ' || f.format
        WHEN NOT a.id_known THEN 'no device ID matches ' || u.subscriber_id
        ELSE 'no device ID for ' || u.subscriber_id || ' is valid at ' || strftime(u.start_time, '%Y-%m-%d %H:%M:%S')
    END AS reason
FROM outcome_rows AS a
JOIN usage_rows AS u USING (rid)
LEFT JOIN id_formats AS f ON f.id_type = u.id_type
-- in batch order: a run stores the same file each time it runs
ORDER BY rid
