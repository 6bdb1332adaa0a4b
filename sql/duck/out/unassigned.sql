-- Stored shape of unassigned usage: the canonical record and why no contract matched.
SELECT
    $run_id AS run_id,
    u.* EXCLUDE (rid),
    CASE
        WHEN a.id_key IS NULL THEN 'subscriber_id is not a valid ' || u.id_type || ' identifier'
        WHEN NOT a.id_known THEN 'no device ID matches ' || u.subscriber_id
        ELSE 'no device ID for ' || u.subscriber_id || ' is valid at ' || strftime(u.start_time, '%Y-%m-%d %H:%M:%S')
    END AS reason
FROM assignment AS a
JOIN usage_in AS u USING (rid)
WHERE a.dev_no IS NULL
