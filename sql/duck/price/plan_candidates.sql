-- Levels 4-6 of the price precedence (docs/pricing.md) as candidates of every price plan
-- (tariff + price list), article and band: src 4 promotion, 5 price list, 6 tariff (band price,
-- base price or volume tiers), 7 flat, and 8 none: no price of these levels (a piece without a
-- price, so a record still finds its tariff-article, for a customer or special price to price it). Lower (src, rank) wins: within a level a band's own row
-- beats one for every band, and a tariff's own promotion beats one for every tariff. A
-- candidate without a band is one for every band of the plan's tariff and for band 0 (none).
-- Validity in epoch microseconds: dates are UTC days, promotions UTC instants.
WITH bands AS (
    SELECT p.plan_no, 0 AS band_no FROM plan_dim AS p
    UNION ALL
    SELECT p.plan_no, b.band_no FROM plan_dim AS p JOIN band_dim AS b USING (tariff_id)
),
cand AS (
    SELECT p.plan_no, a.article_no, NULL AS band, 6 AS src, 1 AS rank, to_micro(x.price) AS price_micro,
           day_us(x.valid_from, -1) AS from_us, day_us(x.valid_until, 1) AS until_us, 'prices:' || x.tariff_id AS ref
    FROM plan_dim AS p
    JOIN cat_prices AS x USING (tariff_id)
    JOIN article_dim AS a USING (article_id)
    UNION ALL
    SELECT p.plan_no, a.article_no, x.band, 6, 0, to_micro(x.price),
           day_us(x.valid_from, -1), day_us(x.valid_until, 1), 'band_prices:' || x.tariff_id || '/' || x.band
    FROM plan_dim AS p
    JOIN pr_band_prices AS x USING (tariff_id)
    JOIN article_dim AS a USING (article_id)
    UNION ALL
    -- volume tiers are the tariff's price of the article (the tier is found per record later)
    SELECT p.plan_no, ta.article_no, NULL, 6, 1, t.price_micro, day_us(NULL, -1), day_us(NULL, 1), 'volume_tiers:' || p.tariff_id
    FROM plan_dim AS p
    JOIN ta_dim AS ta USING (tariff_no)
    JOIN tier_dim AS t ON t.ta_no = ta.ta_no AND t.tier_no = 1
    UNION ALL
    SELECT p.plan_no, a.article_no, x.band, 5, CASE WHEN x.band IS NULL THEN 1 ELSE 0 END, to_micro(x.price),
           day_us(x.valid_from, -1), day_us(x.valid_until, 1), 'price_lists:' || x.price_list_id
    FROM plan_dim AS p
    JOIN pr_price_lists AS x USING (price_list_id)
    JOIN article_dim AS a USING (article_id)
    UNION ALL
    SELECT p.plan_no, a.article_no, x.band, 4,
           (CASE WHEN x.band IS NULL THEN 2 ELSE 0 END) + (CASE WHEN x.tariff_id IS NULL THEN 1 ELSE 0 END),
           to_micro(x.price), epoch_us(x.valid_from), epoch_us(x.valid_until), 'promotions:' || x.promotion_id
    FROM plan_dim AS p
    JOIN pr_promotions AS x ON x.tariff_id IS NULL OR x.tariff_id = p.tariff_id
    JOIN article_dim AS a USING (article_id)
    UNION ALL
    -- a flat-price article is rateable without any price: it costs 0 per use
    SELECT p.plan_no, ta.article_no, NULL, 7, 0, 0, day_us(NULL, -1), day_us(NULL, 1), 'flat_prices:' || p.tariff_id
    FROM plan_dim AS p
    JOIN ta_dim AS ta USING (tariff_no)
    WHERE ta.flat
    UNION ALL
    SELECT p.plan_no, ta.article_no, NULL, 8, 0, NULL, day_us(NULL, -1), day_us(NULL, 1), NULL
    FROM plan_dim AS p
    JOIN ta_dim AS ta USING (tariff_no)
)
SELECT c.plan_no AS owner_no, c.article_no, b.band_no, c.src, c.rank, c.price_micro, c.from_us, c.until_us, c.ref
FROM cand AS c
JOIN plan_dim AS p USING (plan_no)
JOIN bands AS b ON b.plan_no = c.plan_no
LEFT JOIN band_dim AS bd ON bd.band_no = b.band_no
WHERE c.band IS NULL OR (bd.tariff_id = p.tariff_id AND bd.band = c.band)
