-- Flatten possibly nested or overlapping key intervals into disjoint segments.
--
-- Input view `intervals(lo, hi, width, item)`: `item` is an integer id of whatever the
-- interval stands for. Output: one row per (segment, covering item), with the
-- segment's bounds and the item's `rank` among the segment's items: 1 is the most
-- specific (narrowest interval). A record's key finds its segment with one ASOF join.
--
-- Every interval starts and ends on segment boundaries, so it covers the consecutive
-- segments from the one starting at its `lo` to the one before `hi + 1`: two equi-joins
-- find them and `range` expands them. Linear in the output, no inequality join.
WITH bounds AS (
    SELECT lo AS b FROM intervals
    UNION
    SELECT hi + 1 AS b FROM intervals
),
segments AS (
    SELECT b AS seg_lo, lead(b) OVER (ORDER BY b) - 1 AS seg_hi, row_number() OVER (ORDER BY b) AS seg_no
    FROM bounds
),
spans AS (
    SELECT i.item, i.width, i.lo, first_seg.seg_no AS first_no, after_seg.seg_no AS after_no
    FROM intervals AS i
    JOIN segments AS first_seg ON first_seg.seg_lo = i.lo
    JOIN segments AS after_seg ON after_seg.seg_lo = i.hi + 1
),
covered AS (
    SELECT unnest(range(first_no, after_no)) AS seg_no, width, lo, item
    FROM spans
)
SELECT
    s.seg_no, s.seg_lo, s.seg_hi, c.item,
    row_number() OVER (PARTITION BY c.seg_no ORDER BY c.width, c.lo, c.item) AS rank
FROM covered AS c
JOIN segments AS s USING (seg_no)
