-- Flatten possibly nested or overlapping intervals into disjoint segments (docs/assignment.md).
--
-- Input view `intervals(seg_from, seg_until, width, lo, item)`, already in rank space
-- (pipeline/assign/index.py ranked_intervals): the interval's boundaries are numbered in
-- key order, so it covers the segments seg_from .. seg_until - 1, segment s lying between
-- boundary s and boundary s + 1. `item` is an integer id of whatever the interval stands for;
-- `width` and `lo` (any order-preserving numbers) rank the items of a segment.
-- Output: one row per (segment, covering item) with the item's `rank` among the segment's
-- items, 1 the most specific (narrowest, then lowest start, then lowest item). `seg_no` is
-- the segment's number, 1 + its first boundary's rank. Linear in the output: no joins.
WITH covered AS (
    SELECT unnest(range(seg_from, seg_until)) + 1 AS seg_no, width, lo, item
    FROM intervals
)
SELECT seg_no, item, row_number() OVER (PARTITION BY seg_no ORDER BY width, lo, item) AS rank
FROM covered
