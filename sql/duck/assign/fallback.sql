-- The records neither of whose segment's two most specific IDs holds them at their start time
-- (device_segments.sql): the next most specific ID of the segment that holds the record's
-- key (a key of at least its min_digits digits: pipeline/assign/keys.py) and is valid then
-- (valid_from inclusive, valid_until exclusive) wins. Reads `fallback(pos, seg_no,
-- start_time, digits)` (rare: IDs nested three deep with changing validity or around shorter
-- numbers) with `device_items` and `device_intervals`. One row per record that a further ID
-- holds at some time (pos: the record's position in the keyed batch), `dev_no` NULL when
-- none of those is valid then.
SELECT f.pos, arg_min(i.item, i.rank) FILTER (WHERE valid_on(d.valid_from, d.valid_until, f.start_time)) AS dev_no
FROM fallback AS f
JOIN device_items AS i ON i.seg_no = f.seg_no AND i.rank > 2
JOIN device_intervals AS d ON d.dev_no = i.item
WHERE f.digits >= d.min_digits
GROUP BY f.pos
