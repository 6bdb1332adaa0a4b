-- Resolve price candidates over time: view `price_candidates(owner_no, article_no, band_no, src,
-- rank, price_micro, from_us, until_us, ref)` → disjoint pieces [from_us, until_us) per owner,
-- article and band, each with the candidate of lowest (src, rank) valid at its start. The pieces
-- are cut wherever any candidate starts or ends; a piece no candidate covers is left out.
WITH cuts AS (
    SELECT DISTINCT owner_no, article_no, band_no, x AS from_us
    FROM (
        SELECT owner_no, article_no, band_no, from_us AS x FROM price_candidates
        UNION ALL SELECT owner_no, article_no, band_no, until_us FROM price_candidates
    )
),
pieces AS (
    SELECT *, lead(from_us, 1, day_us(NULL, 1)) OVER (PARTITION BY owner_no, article_no, band_no ORDER BY from_us) AS until_us
    FROM cuts
)
SELECT s.owner_no, s.article_no, s.band_no, s.from_us, s.until_us,
       arg_min(c.price_micro, (c.src, c.rank, c.ref)) AS price_micro,
       CAST(arg_min(c.src, (c.src, c.rank, c.ref)) AS TINYINT) AS src,
       arg_min(c.ref, (c.src, c.rank, c.ref)) AS ref
FROM pieces AS s
JOIN price_candidates AS c
    ON c.owner_no = s.owner_no AND c.article_no = s.article_no AND c.band_no = s.band_no
    AND c.from_us <= s.from_us AND c.until_us > s.from_us
WHERE s.from_us < s.until_us
GROUP BY ALL
