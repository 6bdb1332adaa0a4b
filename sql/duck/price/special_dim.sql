-- Special prices of contracts (levels 1 and 2 of docs/pricing.md) as called-number key intervals:
-- friends cover exactly one number, net every number a prefix heads or a range spans. A range
-- holds numbers of at least its ends' digits (`min_digits`): its key interval also spans shorter
-- numbers whose digits fall between its ends (docs/assignment.md), which it does not hold.
SELECT
    CAST(row_number() OVER (ORDER BY x.contract_id, x.number, x.number_to, x.article_id, x.band, x.valid_from) AS BIGINT) AS special_no,
    c.contract_no,
    CAST(CASE x.kind WHEN 'friends' THEN 1 ELSE 2 END AS TINYINT) AS src,
    phone_key(x.number) AS lo,
    CASE WHEN x.kind = 'friends' THEN phone_key(x.number) ELSE phone_prefix_hi(coalesce(x.number_to, x.number)) END AS hi,
    CASE WHEN x.number_to IS NOT NULL THEN length(x.number) ELSE 0 END AS min_digits,
    a.article_no, x.band,
    to_micro(x.price) AS price_micro,
    day_us(x.valid_from, -1) AS from_us, day_us(x.valid_until, 1) AS until_us,
    r.ref_no
FROM pr_special_prices AS x
JOIN contract_dim AS c USING (contract_id)
LEFT JOIN article_dim AS a USING (article_id)
JOIN price_ref_dim AS r ON r.ref = 'special_prices:' || x.contract_id || '/' || x.number || coalesce('-' || x.number_to, '')
