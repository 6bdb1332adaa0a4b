-- The UTC offset of the time zone $zone on every local day of `wall_clock` (local TIMESTAMP),
-- by DuckDB's zone data, the one bands, billing days and service dates use (docs/formats.md):
-- (day, offset_s: seconds ahead of UTC, NULL on a day with a change, offsets_s: every offset
-- of that day). pipeline.ingest.parse.wall_clock_utc takes local - offset_s on a day of one
-- offset, wall_clock_changes.sql's instant on a day of a change.
--
-- ICU's own timezone($zone, local) takes the later instant of a repeated time, moves a skipped
-- one on by the change and costs a lookup per row: the zone is asked per day instead, at the UTC
-- midnights from the day before to two days after it. Every instant a time of that day can be
-- lies between them (an offset is less than a day), so one offset there is the day's offset. The
-- zone data has no two changes within three days from 1999 to 2101 (usage is read from 2000 to
-- 2100): no change hides between two midnights that show the same offset.
WITH days AS (
    SELECT DISTINCT CAST(local AS DATE) AS day
    FROM wall_clock
    WHERE local IS NOT NULL
),
midnights AS (
    SELECT m, utc_offset_s($zone, (m - DATE '1970-01-01') * 86400) AS off
    FROM (SELECT DISTINCT day + CAST(k AS INTEGER) AS m FROM days CROSS JOIN range(-1, 3) AS r(k))
)
SELECT d.day,
       CASE WHEN count(DISTINCT n.off) = 1 THEN any_value(n.off) END AS offset_s,
       list(DISTINCT n.off) AS offsets_s
FROM days AS d
JOIN midnights AS n ON n.m BETWEEN d.day - 1 AND d.day + 2
GROUP BY d.day
