-- Price assigned usage (docs/pricing.md).
--
-- zone:     longest prefix of the called number (ASOF onto zone segments), else the
--           tariff's catch-all zone;
-- article:  article_keys by (article_key, zone), else the key's any-zone row;
-- price:    the tariff's price of the article valid on the record's start date;
-- quantity: seconds rounded up to the granularity (first increment, then next
--           increments; the article may override the tariff's), bytes, or 1 event;
-- amount:   price * quantity / price_per, in micro-units, rounded half away from zero.
-- Records that cannot be priced keep `unrateable_reason`; nothing is priced at zero by default.
WITH base AS (
    SELECT
        a.*,
        c.customer_id,
        c.tariff_id,
        t.first_increment_s AS t_first,
        t.next_increment_s AS t_next,
        t.catchall_zone,
        t.currency,
        t.vat_rate AS t_vat_rate,
        CASE WHEN a.article_key <> 'data' THEN phone_key(e164_digits(a.counterparty)) END AS cp_key
    FROM assigned AS a
    JOIN cat_contracts AS c USING (contract_id)
    JOIN cat_tariffs AS t USING (tariff_id)
),
zoned AS (
    SELECT
        b.* EXCLUDE (cp_key),
        coalesce(CASE WHEN b.cp_key <= z.seg_hi THEN z.cands[1].zone_id END, b.catchall_zone) AS zone_id
    FROM base AS b
    ASOF LEFT JOIN zone_segments AS z ON b.cp_key >= z.seg_lo
),
articled AS (
    SELECT z.*, coalesce(k_zone.article_id, k_any.article_id) AS article_id
    FROM zoned AS z
    LEFT JOIN cat_article_keys AS k_zone
        ON k_zone.article_key = z.article_key AND k_zone.zone_id = z.zone_id
    LEFT JOIN cat_article_keys AS k_any
        ON k_any.article_key = z.article_key AND k_any.zone_id IS NULL
),
priced AS (
    SELECT
        r.*,
        ar.unit,
        ar.price_per,
        coalesce(ar.first_increment_s, r.t_first) AS first_s,
        coalesce(ar.next_increment_s, r.t_next) AS next_s,
        coalesce(ar.vat_rate, r.t_vat_rate) AS vat_rate,
        coalesce(ar.alt_name, ar.name) AS article_name,
        p.price
    FROM articled AS r
    LEFT JOIN cat_articles AS ar USING (article_id)
    LEFT JOIN cat_prices AS p
        ON p.tariff_id = r.tariff_id AND p.article_id = r.article_id
        AND (p.valid_from IS NULL OR CAST(r.start_time AS DATE) >= p.valid_from)
        AND (p.valid_until IS NULL OR CAST(r.start_time AS DATE) < p.valid_until)
),
quantified AS (
    SELECT
        p.* EXCLUDE (t_first, t_next, t_vat_rate, catchall_zone),
        CASE p.unit
            WHEN 'second' THEN CASE
                WHEN p.duration_s <= 0 THEN 0
                WHEN p.duration_s <= p.first_s THEN p.first_s
                ELSE p.first_s + ((p.duration_s - p.first_s + p.next_s - 1) // p.next_s) * p.next_s
            END
            WHEN 'byte' THEN p.volume_bytes
            WHEN 'event' THEN 1
        END AS quantity
    FROM priced AS p
)
SELECT
    q.*,
    'tariff' AS price_source,
    strftime(q.start_time, '%Y-%m') AS period,
    CASE WHEN q.price IS NOT NULL AND q.quantity IS NOT NULL
         THEN div_half_up(to_micro(q.price) * CAST(q.quantity AS HUGEINT), q.price_per) END AS amount_micro,
    CASE
        WHEN q.zone_id IS NULL AND q.article_id IS NULL
            THEN 'no destination zone matches ' || coalesce(q.counterparty, '(empty)') || ' and tariff ' || q.tariff_id || ' has no catch-all zone'
        WHEN q.article_id IS NULL
            THEN 'no article for key ' || q.article_key || ' in zone ' || q.zone_id
        WHEN q.price IS NULL
            THEN 'tariff ' || q.tariff_id || ' has no price for article ' || q.article_id || ' on ' || CAST(CAST(q.start_time AS DATE) AS VARCHAR)
        WHEN q.quantity IS NULL
            THEN 'record has no ' || CASE q.unit WHEN 'byte' THEN 'volume' ELSE 'duration' END || ' for article unit ' || q.unit
    END AS unrateable_reason
FROM quantified AS q
