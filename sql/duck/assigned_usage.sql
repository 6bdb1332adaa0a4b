-- Assign each located usage record to a device ID (docs/assignment.md). `located` has
-- one narrow row per billable record with the device segment its key fell into
-- (`seg_no`, from the interval join in segment_lookup.sql). The segment's most specific
-- ID wins when its validity holds at the record's start time (valid_from inclusive,
-- valid_until exclusive); otherwise the next most specific valid ID of the segment.
-- `dev_no` is NULL for unassigned records; `id_known` says whether any ID covered the key.
WITH hit AS (
    SELECT
        l.*,
        CASE WHEN (s.c1_from IS NULL OR l.start_time >= s.c1_from)
              AND (s.c1_until IS NULL OR l.start_time < s.c1_until)
             THEN s.c1_dev END AS c1_hit,
        s.multi
    FROM located AS l
    LEFT JOIN device_segments AS s USING (seg_no)
),
fallback AS (
    SELECT h.rid, arg_min(i.item, i.rank) AS dev_no
    FROM hit AS h
    JOIN device_items AS i ON i.seg_no = h.seg_no AND i.rank > 1
    JOIN device_intervals AS d ON d.dev_no = i.item
    WHERE h.c1_hit IS NULL AND h.multi
      AND (d.valid_from IS NULL OR h.start_time >= d.valid_from)
      AND (d.valid_until IS NULL OR h.start_time < d.valid_until)
    GROUP BY h.rid
)
SELECT h.* EXCLUDE (c1_hit, multi), coalesce(h.c1_hit, f.dev_no) AS dev_no, h.seg_no IS NOT NULL AS id_known
FROM hit AS h
LEFT JOIN fallback AS f USING (rid)
