-- The device-ID index: one row per segment covered by device IDs (rank space, see
-- interval_segments.sql), with its two most specific IDs, their validity inline as epoch
-- microseconds (open ends as the BIGINT extremes) and the fewest digits of a key each holds
-- (pipeline/assign/keys.py; no second ID: never valid, 16 digits), so records resolve without
-- a join: by the best ID, or the second when the best one does not hold them then (a number
-- that moved, an ID that ended inside a block, a number shorter than a range around it).
-- `deeper` marks segments with more IDs still (sql/duck/assign/fallback.sql). Reads
-- `device_items` and `device_validity(dev_no, from_us, until_us, min_digits)`.
WITH best AS (
    SELECT
        seg_no,
        any_value(item) FILTER (WHERE rank = 1) AS c1_dev,
        any_value(item) FILTER (WHERE rank = 2) AS c2_dev,
        count(*) > 2 AS deeper
    FROM device_items
    GROUP BY seg_no
)
SELECT
    b.seg_no,
    b.c1_dev, v1.from_us AS c1_from, v1.until_us AS c1_until, v1.min_digits AS c1_min,
    b.c2_dev,
    coalesce(v2.from_us, 9223372036854775807) AS c2_from,
    coalesce(v2.until_us, -9223372036854775808) AS c2_until,
    coalesce(v2.min_digits, 16) AS c2_min,
    b.deeper
FROM best AS b
JOIN device_validity AS v1 ON v1.dev_no = b.c1_dev
LEFT JOIN device_validity AS v2 ON v2.dev_no = b.c2_dev
ORDER BY b.seg_no
