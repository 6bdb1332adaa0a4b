-- The rate card: for every tariff, article key and zone (zone_no 0 = no zone), the
-- article usage is billed as, its unit, granularity, VAT rate and the tariff's price
-- versions. Article by (key, zone), else the key's any-zone row. Small (tariffs × keys
-- × zones × price versions); every record then needs one integer equi-join.
WITH zones AS (
    SELECT zone_no, zone_id FROM zone_dim
    UNION ALL SELECT 0, NULL
),
articled AS (
    SELECT k.key_no, k.article_key, z.zone_no, coalesce(kz.article_id, ka.article_id) AS article_id
    FROM key_dim AS k
    CROSS JOIN zones AS z
    LEFT JOIN cat_article_keys AS kz ON kz.article_key = k.article_key AND kz.zone_id = z.zone_id
    LEFT JOIN cat_article_keys AS ka ON ka.article_key = k.article_key AND ka.zone_id IS NULL
)
SELECT
    CAST(row_number() OVER (ORDER BY t.tariff_no, a.key_no, a.zone_no, p.valid_from NULLS FIRST) AS INTEGER) AS card_no,
    t.tariff_no, a.key_no, a.zone_no, a.article_id,
    ar.unit, ar.price_per,
    coalesce(ar.first_increment_s, t.first_increment_s) AS first_s,
    coalesce(ar.next_increment_s, t.next_increment_s) AS next_s,
    CAST(coalesce(ar.vat_rate, t.vat_rate) AS DECIMAL(6,4)) AS vat_rate,
    coalesce(ar.alt_name, ar.name) AS article_name,
    t.currency,
    to_micro(p.price) AS price_micro,
    p.valid_from, p.valid_until
FROM articled AS a
CROSS JOIN tariff_dim AS t
JOIN cat_articles AS ar USING (article_id)
JOIN cat_prices AS p ON p.tariff_id = t.tariff_id AND p.article_id = a.article_id
