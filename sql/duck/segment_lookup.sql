-- The interval join: each probe key finds the disjoint segment that starts at or before
-- it (ASOF) and keeps the segment's item when the key is inside it. Reads `probe(rid,
-- key)` and `lookup_segments(seg_lo, seg_hi, item)`; returns one row per probe row, in
-- no particular order (the caller aligns by rid).
SELECT p.rid, CASE WHEN p.key <= s.seg_hi THEN s.item END AS item
FROM probe AS p
ASOF LEFT JOIN lookup_segments AS s ON p.key >= s.seg_lo
