-- Flatten possibly nested or overlapping key intervals into disjoint segments.
--
-- Input view `intervals(kind, lo, hi, width, payload)`; `payload` is a STRUCT carried
-- through. Output: one row per elementary segment [seg_lo, seg_hi] covered by at least
-- one interval, with every covering interval's payload in `cands`, most specific
-- (narrowest) first. A record's key finds its segment with one ASOF join.
--
-- Every interval starts and ends on segment boundaries, so it covers the consecutive
-- segments from the one starting at its `lo` to the one before `hi + 1`: two equi-joins
-- find them and `range` expands them. Linear in the output, no inequality join.
WITH bounds AS (
    SELECT kind, lo AS b FROM intervals
    UNION
    SELECT kind, hi + 1 AS b FROM intervals
),
segments AS (
    SELECT
        kind,
        b AS seg_lo,
        lead(b) OVER (PARTITION BY kind ORDER BY b) - 1 AS seg_hi,
        row_number() OVER (PARTITION BY kind ORDER BY b) AS seg_no
    FROM bounds
),
spans AS (
    SELECT i.kind, i.width, i.lo, i.payload, first_seg.seg_no AS first_no, after_seg.seg_no AS after_no
    FROM intervals AS i
    JOIN segments AS first_seg ON first_seg.kind = i.kind AND first_seg.seg_lo = i.lo
    JOIN segments AS after_seg ON after_seg.kind = i.kind AND after_seg.seg_lo = i.hi + 1
),
covered AS (
    SELECT kind, unnest(range(first_no, after_no)) AS seg_no, width, lo, payload
    FROM spans
)
SELECT s.kind, s.seg_lo, s.seg_hi, list(c.payload ORDER BY c.width, c.lo) AS cands
FROM covered AS c
JOIN segments AS s USING (kind, seg_no)
GROUP BY s.kind, s.seg_lo, s.seg_hi
