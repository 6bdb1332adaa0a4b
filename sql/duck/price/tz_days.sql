-- UTC offsets of the contracts' time zones for every UTC day the run's usage spans (one day
-- either side), for tariffs with time bands: local = utc + offset_before_s, or + offset_after_s
-- from change_us on (a daylight-saving change, found to the quarter hour). Per-record time zone
-- conversion is slow; this table makes it one integer join.
WITH bounds AS (
    SELECT epoch_us(first_start) // 86400000000 - 1 AS d0, epoch_us(last_start) // 86400000000 + 1 AS d1
    FROM assigned_span
),
zones AS (
    SELECT DISTINCT d.tz_no, z.timezone FROM dev_dim AS d JOIN tz_dim AS z USING (tz_no) WHERE d.banded
),
days AS (
    SELECT z.tz_no, z.timezone, unnest(range(b.d0, b.d1 + 1)) AS day
    FROM zones AS z CROSS JOIN bounds AS b
    WHERE b.d0 IS NOT NULL
),
edges AS (
    SELECT *, utc_offset_s(timezone, day * 86400) AS off0, utc_offset_s(timezone, (day + 1) * 86400) AS off1
    FROM days
),
changes AS (
    SELECT e.tz_no, e.day, min(q) AS q
    FROM (SELECT *, unnest(range(1, 97)) AS q FROM edges WHERE off0 <> off1) AS e
    WHERE utc_offset_s(e.timezone, e.day * 86400 + e.q * 900) = e.off1
    GROUP BY ALL
)
SELECT e.tz_no, e.day, e.off0 AS offset_before_s,
       coalesce((e.day * 86400 + c.q * 900) * 1000000, 9223372036854775807) AS change_us,
       e.off1 AS offset_after_s
FROM edges AS e
LEFT JOIN changes AS c USING (tz_no, day)
