-- The rate card: for every price plan (tariff + price list), article key, zone (0 = none) and
-- time band (0 = none), the tariff-article usage is billed as and its price over time with the
-- rule that set it (levels 4-6 of docs/pricing.md, or none: source 8, no price, resolved in `plan_prices` by
-- sql/duck/price/timeline.sql). The article is the key's row for the zone, else the key's
-- any-zone row. A flat-price article costs 0 per use (source 7, flat). Small: plans × keys ×
-- zones × bands × price pieces; every record then needs one integer equi-join.
WITH articled AS (
    SELECT k.key_no, z.zone_no, coalesce(kz.article_id, ka.article_id) AS article_id
    FROM key_dim AS k
    CROSS JOIN (SELECT zone_no, zone_id FROM zone_dim UNION ALL SELECT 0, NULL) AS z
    LEFT JOIN cat_article_keys AS kz ON kz.article_key = k.article_key AND kz.zone_id = z.zone_id
    LEFT JOIN cat_article_keys AS ka ON ka.article_key = k.article_key AND ka.zone_id IS NULL
)
SELECT
    w.owner_no AS plan_no, k.key_no, k.zone_no, w.band_no, w.from_us, w.until_us,
    ta.ta_no, ta.article_no, ta.unit, ta.first_s, ta.next_s, ta.counted,
    CASE WHEN ta.flat THEN 0 ELSE w.price_micro END AS price_micro,
    CAST(CASE WHEN ta.flat THEN 7 ELSE w.src END AS TINYINT) AS src,
    r.ref_no
FROM articled AS k
JOIN article_dim AS a USING (article_id)
JOIN plan_prices AS w ON w.article_no = a.article_no
JOIN plan_dim AS p ON p.plan_no = w.owner_no
JOIN ta_dim AS ta ON ta.tariff_no = p.tariff_no AND ta.article_no = a.article_no
LEFT JOIN price_ref_dim AS r ON r.ref = CASE WHEN ta.flat THEN 'flat_prices:' || p.tariff_id ELSE w.ref END
