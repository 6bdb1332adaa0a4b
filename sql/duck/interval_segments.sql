-- Flatten possibly nested or overlapping key intervals into disjoint segments.
--
-- Input view `intervals(kind, lo, hi, width, payload)`; `payload` is a STRUCT carried
-- through. Output: one row per elementary segment [seg_lo, seg_hi] covered by at least
-- one interval, with every covering interval's payload in `cands`, most specific
-- (narrowest) first. A record's key finds its segment with one ASOF join.
WITH bounds AS (
    SELECT kind, lo AS b FROM intervals
    UNION
    SELECT kind, hi + 1 AS b FROM intervals
),
segments AS (
    SELECT kind, b AS seg_lo, lead(b) OVER (PARTITION BY kind ORDER BY b) - 1 AS seg_hi
    FROM bounds
)
SELECT s.kind, s.seg_lo, s.seg_hi, list(i.payload ORDER BY i.width, i.lo) AS cands
FROM segments AS s
JOIN intervals AS i ON i.kind = s.kind AND i.lo <= s.seg_lo AND i.hi >= s.seg_lo
WHERE s.seg_hi IS NOT NULL
GROUP BY s.kind, s.seg_lo, s.seg_hi
