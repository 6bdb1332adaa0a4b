-- The UTC instant (utc_us, epoch microseconds) of each wall-clock time of `wall_clock` on a day
-- of `wall_clock_days` (wall_clock_days.sql) when the offset of the time zone $zone changes: in
-- the hour a change repeats, the earlier instant; a time the change skips, NULL. Each offset of
-- the day is tried; an instant counts when the zone's offset at it is the one tried.
WITH times AS (
    SELECT DISTINCT w.local, d.offsets_s
    FROM wall_clock AS w
    JOIN (SELECT day, offsets_s FROM wall_clock_days WHERE offset_s IS NULL) AS d ON d.day = CAST(w.local AS DATE)
)
SELECT local,
       list_min(list_transform(list_filter(
           list_transform(offsets_s, lambda off: {'utc_us': epoch_us(local) - off * 1000000, 'off': off}),
           lambda c: utc_offset_s($zone, CAST(floor(c.utc_us / 1000000) AS BIGINT)) = c.off
       ), lambda c: c.utc_us)) AS utc_us
FROM times
