-- The special price of each record of a contract with special prices whose called number one of
-- them covers: friends exactly one number, net a prefix's or a range's key interval of numbers long
-- enough (special_dim).
-- Of several, the narrowest wins (a friends number before a net prefix, a longer prefix before a
-- shorter one; of two as narrow, friends before net: a 15-digit number and its net prefix), then
-- one for the record's article before one for any article, then one for its band before one for
-- every band. Flat-price usage is never special: pipeline/price/records.py
-- registers only the other records of such contracts, as `special_records` (pos, contract_no,
-- cp_key, article_no, band_no, t_us). A contract has few special prices, so each record is
-- simply checked against all of its contract's.
SELECT
    r.pos,
    arg_min(sp.price_micro, (sp.hi - sp.lo, sp.src, sp.article_no IS NULL, sp.band IS NULL, sp.special_no)) AS price_micro,
    arg_min(sp.src, (sp.hi - sp.lo, sp.src, sp.article_no IS NULL, sp.band IS NULL, sp.special_no)) AS src,
    arg_min(sp.ref_no, (sp.hi - sp.lo, sp.src, sp.article_no IS NULL, sp.band IS NULL, sp.special_no)) AS ref_no
FROM special_records AS r
JOIN special_dim AS sp
    ON sp.contract_no = r.contract_no AND r.cp_key BETWEEN sp.lo AND sp.hi AND r.cp_key % 16 >= sp.min_digits
LEFT JOIN band_dim AS bd ON bd.band_no = r.band_no
WHERE (sp.article_no IS NULL OR sp.article_no = r.article_no)
  AND (sp.band IS NULL OR sp.band = bd.band)
  AND r.t_us >= sp.from_us AND r.t_us < sp.until_us
GROUP BY r.pos
