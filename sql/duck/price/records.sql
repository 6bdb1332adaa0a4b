-- Priced usage, the per-record facts (docs/pricing.md): view `rated_records` over `assignment`,
-- one row per assigned record with its zone, band, tariff-article, rated quantity and the price
-- of precedence levels 3-7 (rate card) or 3 (customer price). Special prices (levels 1-2),
-- free quantities, tiers and fees come on top in sql/duck/priced_usage.sql.
--
-- zone:     a local call (the called number lies in the caller's area code and the key has an
--           article in the tariff's local zone) is in the local zone; else the zone of the called
--           number's longest prefix, else the tariff's catch-all zone, else none (0);
-- band:     the tariff's band at the record's start in the contract's time zone (a call is
--           priced whole in the band it starts in), a public holiday taking the holiday bands;
-- article and price: the rate-card piece of (plan, key, zone, band) valid at the start, unless
--           the customer has an own price of the article then;
-- quantity: seconds rounded up to the granularity, bytes, or 1 event;
-- A record without a rate-card row or a quantity has a NULL price: it is unrateable.
WITH rec AS (
    SELECT
        a.rid, a.dev_no, a.key_no, a.duration_s, a.volume_bytes,
        epoch_us(a.start_time) AS t_us,
        CASE WHEN d.special THEN a.cp_key END AS cp_key,
        d.contract_no, d.plan_no, d.cust_no, d.tz_no, d.hset_no, d.banded, d.holiday_bands, d.tariff_no,
        CASE
            WHEN lk.key_no IS NOT NULL AND a.cp_key BETWEEN d.area_lo AND d.area_hi THEN d.local_zone_no
            ELSE coalesce(a.zone_hit, d.catchall_zone_no)
        END AS zone_no
    FROM assignment AS a
    JOIN dev_dim AS d ON d.dev_no = a.dev_no
    LEFT JOIN local_keys AS lk ON lk.tariff_no = (CASE WHEN d.local_zone_no > 0 THEN d.tariff_no END) AND lk.key_no = a.key_no
),
local_time AS (
    SELECT r.*,
           r.t_us // 1000000 + CASE WHEN r.t_us >= z.change_us THEN z.offset_after_s ELSE z.offset_before_s END AS local_s
    FROM rec AS r
    LEFT JOIN tz_days AS z ON z.tz_no = (CASE WHEN r.banded THEN r.tz_no END) AND z.day = r.t_us // 86400000000
),
banded AS (
    SELECT l.*, coalesce(g.band_no, 0) AS band_no
    FROM local_time AS l
    LEFT JOIN holiday_dim AS h ON h.hset_no = (CASE WHEN l.holiday_bands THEN l.hset_no END) AND h.day = l.local_s // 86400
    LEFT JOIN band_grid AS g
        ON g.grid_key = (l.tariff_no * 8 + CASE WHEN h.day IS NOT NULL THEN 7 ELSE (l.local_s // 86400 + 3) % 7 END) * 1440
                        + (l.local_s % 86400) // 60
),
carded AS (
    -- most cards have one price for all time: an equality join; the others are cut in time
    SELECT b.*,
           coalesce(one.ta_no, cut.ta_no) AS ta_no, coalesce(one.article_no, cut.article_no) AS article_no,
           coalesce(one.counted, cut.counted) AS counted, coalesce(one.price_micro, cut.price_micro) AS price_micro,
           coalesce(one.src, cut.src) AS src, coalesce(one.ref_no, cut.ref_no) AS ref_no,
           rated_quantity(coalesce(one.unit, cut.unit), b.duration_s, b.volume_bytes,
                          coalesce(one.first_s, cut.first_s), coalesce(one.next_s, cut.next_s)) AS quantity
    FROM banded AS b
    CROSS JOIN card_dims AS k
    LEFT JOIN card_one AS one ON one.card_key = card_key(b.plan_no, b.key_no, b.zone_no, b.band_no, k)
    LEFT JOIN card_cut AS cut
        ON cut.card_key = (CASE WHEN one.card_key IS NULL THEN card_key(b.plan_no, b.key_no, b.zone_no, b.band_no, k) END)
        AND b.t_us >= cut.from_us AND b.t_us < cut.until_us
)
SELECT
    c.rid, c.dev_no, c.contract_no, c.ta_no, c.article_no, c.zone_no, c.band_no, c.t_us, month_idx(c.t_us) AS month_idx,
    c.duration_s, c.volume_bytes, c.quantity, c.cp_key,
    coalesce(c.counted AND c.quantity IS NOT NULL, false) AS counted,
    CASE WHEN cc.price_micro IS NOT NULL AND c.src <> 7 THEN cc.price_micro ELSE c.price_micro END AS price_micro,
    CAST(CASE WHEN cc.price_micro IS NOT NULL AND c.src <> 7 THEN 3 ELSE c.src END AS TINYINT) AS src,
    CASE WHEN cc.price_micro IS NOT NULL AND c.src <> 7 THEN cc.ref_no ELSE c.ref_no END AS ref_no
FROM carded AS c
LEFT JOIN cust_card AS cc
    ON cc.cust_no = (CASE WHEN c.cust_no > 0 THEN c.cust_no END) AND cc.article_no = c.article_no AND cc.band_no = c.band_no
    AND c.t_us >= cc.from_us AND c.t_us < cc.until_us
