-- The device-ID index: one row per disjoint key segment with its most specific ID
-- (`c1_dev`) and that ID's validity inline, so most records resolve without looking
-- further; `multi` marks segments where less specific IDs are the fallback.
SELECT
    s.seg_no, s.seg_lo, s.seg_hi,
    s.item AS c1_dev,
    d.valid_from AS c1_from,
    d.valid_until AS c1_until,
    (SELECT count(*) FROM device_items AS o WHERE o.seg_no = s.seg_no) > 1 AS multi
FROM device_items AS s
JOIN device_intervals AS d ON d.dev_no = s.item
WHERE s.rank = 1
ORDER BY s.seg_lo
