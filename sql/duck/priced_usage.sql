-- Price assigned usage (docs/pricing.md). Reads `assignment` (narrow records with their
-- device ID and the zone of the called number's longest prefix, both found by the
-- interval join), the coded dimensions and the rate card.
--
-- zone:     longest prefix of the called number, else the tariff's catch-all zone,
--           else none (0);
-- article and price: the rate-card row of (tariff, article key, zone) whose price
--           version is valid on the record's start date (UTC);
-- quantity: seconds rounded up to the granularity (first increment, then next
--           increments; the article may override the tariff's), bytes, or 1 event;
-- amount:   price · quantity / price_per, in micro-units, rounded half away from zero.
-- A record without a rate-card row or a quantity has a NULL amount: it is unrateable
-- (reasons: sql/duck/out/unrateable.sql); nothing is priced at zero by default.
WITH zoned AS (
    SELECT a.rid, a.dev_no, a.start_time, a.duration_s, a.volume_bytes, a.key_no, a.zone_hit
    FROM assignment AS a
    WHERE a.dev_no IS NOT NULL
),
coded AS (
    SELECT
        z.*, d.contract_no, d.tariff_no,
        coalesce(z.zone_hit, t.catchall_zone_no) AS zone_no
    FROM zoned AS z
    JOIN dev_dim AS d USING (dev_no)
    JOIN tariff_dim AS t USING (tariff_no)
),
carded AS (
    SELECT r.*, rc.card_no, rc.unit, rc.first_s, rc.next_s, rc.price_micro, rc.price_per
    FROM coded AS r
    LEFT JOIN rate_card AS rc
        ON rc.tariff_no = r.tariff_no AND rc.key_no = r.key_no AND rc.zone_no = r.zone_no
        AND (rc.valid_from IS NULL OR CAST(r.start_time AS DATE) >= rc.valid_from)
        AND (rc.valid_until IS NULL OR CAST(r.start_time AS DATE) < rc.valid_until)
),
quantified AS (
    SELECT
        c.rid, c.dev_no, c.contract_no, c.tariff_no, c.key_no, c.zone_no, c.card_no, c.duration_s, c.volume_bytes,
        CAST(year(c.start_time) * 100 + month(c.start_time) AS INTEGER) AS month_key,
        c.price_micro, c.price_per,
        CASE c.unit
            WHEN 'second' THEN CASE
                WHEN c.duration_s <= 0 THEN 0
                WHEN c.duration_s <= c.first_s THEN c.first_s
                ELSE c.first_s + ((c.duration_s - c.first_s + c.next_s - 1) // c.next_s) * c.next_s
            END
            WHEN 'byte' THEN c.volume_bytes
            WHEN 'event' THEN 1
        END AS quantity
    FROM carded AS c
)
SELECT
    q.* EXCLUDE (price_micro, price_per),
    div_half_up(CAST(q.price_micro AS HUGEINT) * q.quantity, q.price_per) AS amount_micro
FROM quantified AS q
