-- Integer-coded dimensions of the registered catalog (cat_*) and pricing catalog (pr_*), so the
-- per-record work joins and groups on small integers and resolves names only when rows are
-- stored (docs/pricing.md). Reads also `zone_dim`, `key_dim` and `band_minutes`
-- (pipeline/price/catalog.py band_minutes). The price plans, contracts and device IDs (plan_dim,
-- contract_dim, dev_dim: a row per contract or device-ID slice) are coded by Polars after this
-- script, from these tables (pipeline/price/coded.py).

CREATE OR REPLACE TEMP TABLE article_dim AS
SELECT CAST(row_number() OVER (ORDER BY article_id) AS INTEGER) AS article_no, article_id, unit, price_per,
       first_increment_s, next_increment_s, vat_rate, coalesce(alt_name, name) AS article_name
FROM cat_articles;

-- Time bands are named per tariff; band_no 0 is "no band".
CREATE OR REPLACE TEMP TABLE band_dim AS
SELECT CAST(row_number() OVER (ORDER BY tariff_id, band) AS INTEGER) AS band_no, tariff_id, band
FROM (SELECT DISTINCT tariff_id, band FROM pr_time_bands);

-- Holiday calendars in use (country, subdivision); pr_holidays lists their days.
CREATE OR REPLACE TEMP TABLE hset_dim AS
SELECT CAST(row_number() OVER (ORDER BY holiday_country, holiday_subdiv NULLS FIRST) AS INTEGER) AS hset_no,
       holiday_country, holiday_subdiv
FROM (SELECT DISTINCT holiday_country, holiday_subdiv FROM pr_tariff_pricing WHERE holiday_country IS NOT NULL);

CREATE OR REPLACE TEMP TABLE tariff_dim AS
SELECT CAST(row_number() OVER (ORDER BY t.tariff_id) AS INTEGER) AS tariff_no, t.*,
       coalesce(z.zone_no, 0) AS catchall_zone_no,
       coalesce(lz.zone_no, 0) AS local_zone_no,
       tp.min_revenue, tp.cost_cap, tp.tolerance_pct,
       coalesce(h.hset_no, 0) AS hset_no,
       t.tariff_id IN (SELECT tariff_id FROM band_minutes) AS banded,
       t.tariff_id IN (SELECT tariff_id FROM band_minutes WHERE day = 7) AS holiday_bands
FROM cat_tariffs AS t
LEFT JOIN pr_tariff_pricing AS tp USING (tariff_id)
LEFT JOIN zone_dim AS z ON z.zone_id = t.catchall_zone
LEFT JOIN zone_dim AS lz ON lz.zone_id = tp.local_zone
LEFT JOIN hset_dim AS h
    ON h.holiday_country = tp.holiday_country AND h.holiday_subdiv IS NOT DISTINCT FROM tp.holiday_subdiv;

-- Customers with prices of their own; every other customer has cust_no 0.
CREATE OR REPLACE TEMP TABLE cust_dim AS
SELECT CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS cust_no, customer_id
FROM (SELECT DISTINCT customer_id FROM pr_customer_prices);

CREATE OR REPLACE TEMP TABLE tz_dim AS
SELECT CAST(row_number() OVER (ORDER BY timezone) AS INTEGER) AS tz_no, timezone
FROM (SELECT DISTINCT timezone FROM cat_contracts);

-- Area codes as key intervals of the numbers they head (prefix-free, so disjoint).
CREATE OR REPLACE TEMP TABLE area_dim AS
SELECT country_code || area_code AS area_prefix,
       phone_key(country_code || area_code) AS area_lo,
       phone_prefix_hi(country_code || area_code) AS area_hi
FROM pr_area_codes;

-- Article keys that have an article in their tariff's local zone: only they are local calls.
CREATE OR REPLACE TEMP TABLE local_keys AS
SELECT DISTINCT t.tariff_no, k.key_no
FROM tariff_dim AS t
JOIN zone_dim AS z ON z.zone_no = t.local_zone_no
JOIN cat_article_keys AS ak ON ak.zone_id = z.zone_id
JOIN key_dim AS k USING (article_key);

-- Every tariff and article with its per-call and per-period rules.
CREATE OR REPLACE TEMP TABLE ta_dim AS
SELECT
    CAST(row_number() OVER (ORDER BY t.tariff_no, a.article_no) AS INTEGER) AS ta_no,
    t.tariff_no, t.tariff_id, a.article_no, a.article_id, a.unit, a.price_per, a.article_name,
    coalesce(a.first_increment_s, t.first_increment_s) AS first_s,
    coalesce(a.next_increment_s, t.next_increment_s) AS next_s,
    coalesce(to_micro(x.connect_fee), 0) AS connect_micro,
    coalesce(to_micro(x.min_charge), 0) AS min_charge_micro,
    coalesce(x.min_revenue, false) AS min_revenue,
    coalesce(x.cost_cap, false) AS cost_cap,
    coalesce(f.quantity, 0) AS free_q,
    tm.method AS tier_method,
    fp.article_id IS NOT NULL AS flat,
    to_micro(fp.flat_price) AS flat_micro,
    to_micro(fp.reference_price) AS reference_micro,
    coalesce(f.quantity, 0) > 0 OR tm.method IS NOT NULL AS counted
FROM tariff_dim AS t
CROSS JOIN article_dim AS a
LEFT JOIN pr_tariff_articles AS x ON x.tariff_id = t.tariff_id AND x.article_id = a.article_id
LEFT JOIN pr_free_quantities AS f ON f.tariff_id = t.tariff_id AND f.article_id = a.article_id
LEFT JOIN (SELECT DISTINCT tariff_id, article_id, method FROM pr_volume_tiers) AS tm
    ON tm.tariff_id = t.tariff_id AND tm.article_id = a.article_id
LEFT JOIN pr_flat_prices AS fp ON fp.tariff_id = t.tariff_id AND fp.article_id = a.article_id;

-- Volume tiers: tier_no of a tariff-article holds units [lo, hi) counted per contract and
-- period, with what the tiers below it cost (cost_before, micro-units · units, before dividing
-- by price_per) and the flat fees up to and including it. cost_before passes 2^63 for wide
-- tiers (5.00 per 10^9 B for a TB is 5·10^18), so the walk gets it as two 64-bit words:
-- cost_before = cost_hi · 2^62 + cost_lo (pipeline/price/walk.py).
CREATE OR REPLACE TEMP TABLE tier_dim AS
WITH t AS (
    SELECT ta.ta_no, v.method, v.from_quantity AS lo,
           coalesce(lead(v.from_quantity) OVER (PARTITION BY ta.ta_no ORDER BY v.from_quantity), 9223372036854775807) AS hi,
           to_micro(v.price) AS price_micro, coalesce(to_micro(v.flat_fee), 0) AS fee_micro,
           CAST(row_number() OVER (PARTITION BY ta.ta_no ORDER BY v.from_quantity) AS INTEGER) AS tier_no
    FROM pr_volume_tiers AS v
    JOIN ta_dim AS ta USING (tariff_id, article_id)
)
SELECT *, CAST(cost_before // 4611686018427387904 AS BIGINT) AS cost_hi, CAST(cost_before % 4611686018427387904 AS BIGINT) AS cost_lo
FROM (
    SELECT *,
           coalesce(sum(CAST(price_micro AS HUGEINT) * (hi - lo)) OVER before, 0) AS cost_before,
           sum(fee_micro) OVER upto AS fees_through
    FROM t
    WINDOW before AS (PARTITION BY ta_no ORDER BY lo ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           upto AS (PARTITION BY ta_no ORDER BY lo ROWS UNBOUNDED PRECEDING)
);

-- Minute grid of the time bands: (tariff, day, minute) → band. Days 0-6 are Monday to Sunday;
-- day 7 + w is a public holiday on weekday w: its holiday band where one covers the minute, else
-- weekday w's band (holiday bands of 08:00-18:00 leave a holiday evening its weekday's band).
-- Only tariffs with holiday bands have holiday days (dev_dim.holiday_bands).
CREATE OR REPLACE TEMP TABLE band_grid AS
WITH holiday AS (
    SELECT tariff_id, band, minute FROM band_minutes WHERE day = 7
),
m AS (
    SELECT tariff_id, band, day, minute FROM band_minutes WHERE day < 7
    UNION ALL
    SELECT h.tariff_id, h.band, 7 + w.day, h.minute FROM holiday AS h CROSS JOIN range(7) AS w(day)
    UNION ALL
    SELECT b.tariff_id, b.band, 7 + b.day, b.minute
    FROM band_minutes AS b
    ANTI JOIN holiday AS h ON h.tariff_id = b.tariff_id AND h.minute = b.minute
    WHERE b.day < 7 AND b.tariff_id IN (SELECT tariff_id FROM holiday)
)
SELECT (t.tariff_no * 14 + m.day) * 1440 + m.minute AS grid_key, b.band_no
FROM m
JOIN tariff_dim AS t USING (tariff_id)
JOIN band_dim AS b USING (tariff_id, band);

-- Every price row's human-readable origin ("file:key"), numbered: rated records store the number.
CREATE OR REPLACE TEMP TABLE price_ref_dim AS
SELECT CAST(row_number() OVER (ORDER BY ref) AS INTEGER) AS ref_no, ref
FROM (
    SELECT 'prices:' || tariff_id AS ref FROM cat_prices
    UNION SELECT 'band_prices:' || tariff_id || '/' || band FROM pr_band_prices
    UNION SELECT 'volume_tiers:' || tariff_id FROM pr_volume_tiers
    UNION SELECT 'price_lists:' || price_list_id FROM pr_price_lists
    UNION SELECT 'promotions:' || promotion_id FROM pr_promotions
    UNION SELECT 'customer_prices:' || customer_id FROM pr_customer_prices
    UNION SELECT 'special_prices:' || contract_id || '/' || number || coalesce('-' || number_to, '') FROM pr_special_prices
    UNION SELECT 'flat_prices:' || tariff_id FROM pr_flat_prices
);
