-- The records whose segment's two most specific IDs are both not valid at their start time
-- (device_segments.sql): the next most specific ID of the segment that is valid then
-- (valid_from inclusive, valid_until exclusive) wins. Reads `fallback(pos, seg_no,
-- start_time)` (rare: IDs nested three deep with changing validity) with `device_items` and
-- `device_intervals`; one row per record that has one (pos: the record's position in the keyed batch).
SELECT f.pos, arg_min(i.item, i.rank) AS dev_no
FROM fallback AS f
JOIN device_items AS i ON i.seg_no = f.seg_no AND i.rank > 2
JOIN device_intervals AS d ON d.dev_no = i.item
WHERE valid_on(d.valid_from, d.valid_until, f.start_time)
GROUP BY f.pos
