-- Integer-coded dimensions of the registered catalog (cat_*) and pricing catalog (pr_*), so the
-- per-record work joins and groups on small integers and resolves names only when rows are
-- stored (docs/pricing.md). Reads also `zone_dim`, `key_dim`, `device_intervals` and
-- `band_minutes` (pipeline/price/catalog.py band_minutes).

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

-- A price plan is a tariff with a price list: the rate card is built once per plan. A price
-- list without any price rows is no price list. A contract's plans: its own tariff's, and those
-- of the tariffs its device-ID slices carry after a tariff change (device_intervals.tariff_id).
CREATE OR REPLACE TEMP TABLE plan_dim AS
SELECT CAST(row_number() OVER (ORDER BY tariff_no, price_list_id NULLS FIRST) AS INTEGER) AS plan_no, *
FROM (
    SELECT DISTINCT t.tariff_no, t.tariff_id,
           CASE WHEN ct.price_list_id IN (SELECT price_list_id FROM pr_price_lists) THEN ct.price_list_id END AS price_list_id
    FROM (
        -- each contract's tariff and its slices' tariffs, with the customer's price list: only the few
        -- (tariff, price list) pairs are made distinct, not the 100 k (contract, tariff) pairs first
        SELECT c.tariff_id, cu.price_list_id FROM cat_contracts AS c JOIN cat_customers AS cu USING (customer_id)
        UNION ALL
        SELECT d.tariff_id, cu.price_list_id
        FROM device_intervals AS d
        JOIN cat_contracts AS c USING (contract_id)
        JOIN cat_customers AS cu USING (customer_id)
        WHERE d.tariff_id IS NOT NULL
    ) AS ct
    JOIN tariff_dim AS t ON t.tariff_id = ct.tariff_id
);

-- Customers with prices of their own; every other customer has cust_no 0.
CREATE OR REPLACE TEMP TABLE cust_dim AS
SELECT CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS cust_no, customer_id
FROM (SELECT DISTINCT customer_id FROM pr_customer_prices);

CREATE OR REPLACE TEMP TABLE tz_dim AS
SELECT CAST(row_number() OVER (ORDER BY timezone) AS INTEGER) AS tz_no, timezone
FROM (SELECT DISTINCT timezone FROM cat_contracts);

CREATE OR REPLACE TEMP TABLE contract_dim AS
SELECT CAST(row_number() OVER (ORDER BY c.contract_id) AS INTEGER) AS contract_no,
       c.contract_id, c.customer_id, c.tariff_id, t.tariff_no, p.plan_no,
       coalesce(cd.cust_no, 0) AS cust_no,
       c.contract_id IN (SELECT contract_id FROM pr_special_prices) AS special,
       z.tz_no, c.timezone, cu.vat_treatment AS vat_code
FROM cat_contracts AS c
JOIN cat_customers AS cu USING (customer_id)
JOIN tariff_dim AS t USING (tariff_id)
JOIN plan_dim AS p
    ON p.tariff_no = t.tariff_no
    AND p.price_list_id IS NOT DISTINCT FROM
        (CASE WHEN cu.price_list_id IN (SELECT price_list_id FROM pr_price_lists) THEN cu.price_list_id END)
LEFT JOIN cust_dim AS cd USING (customer_id)
JOIN tz_dim AS z USING (timezone);

-- Area codes as key intervals of the numbers they head (prefix-free, so disjoint).
CREATE OR REPLACE TEMP TABLE area_dim AS
SELECT country_code || area_code AS area_prefix,
       phone_key(country_code || area_code) AS area_lo,
       phone_prefix_hi(country_code || area_code) AS area_hi
FROM pr_area_codes;

-- Everything a record needs from its device ID, contract and tariff, in one row per device ID
-- (slice): the tariff is the slice's after a tariff change, else the contract's, so every record
-- is rated with the tariff valid at its start by the assignment alone (docs/pricing.md).
-- A device ID whose numbers all lie in one area code makes local calls within [area_lo, area_hi].
-- Its labels (matched_id, match_kind) are not copied: the detail reads them from device_intervals.
CREATE OR REPLACE TEMP TABLE dev_dim AS
WITH plan_of AS (
    -- a contract's own plan and a tariff → the plan of that tariff with the same price list
    SELECT own.plan_no AS own_plan_no, t.tariff_id, p.plan_no, t.tariff_no, t.banded, t.holiday_bands, t.hset_no,
           t.catchall_zone_no, t.local_zone_no
    FROM plan_dim AS own
    JOIN plan_dim AS p ON p.price_list_id IS NOT DISTINCT FROM own.price_list_id
    JOIN tariff_dim AS t ON t.tariff_no = p.tariff_no
),
slice AS (
    -- each slice's contract and tariff first: the plan_of join below then has both its keys on
    -- one side (with them split over two tables DuckDB joined every slice with each of its
    -- contract's plans, 1.5 M rows at 305 k slices, and filtered them)
    SELECT d.dev_no, d.lo, d.hi, c.contract_no, c.plan_no AS own_plan_no, coalesce(d.tariff_id, c.tariff_id) AS tariff_id,
           c.cust_no, c.special, c.tz_no
    FROM device_intervals AS d
    JOIN contract_dim AS c USING (contract_id)
),
dev AS (
    SELECT s.dev_no, s.lo, s.hi, s.contract_no, po.tariff_no, po.plan_no, s.cust_no, s.special, s.tz_no,
           po.banded, po.holiday_bands, po.hset_no, po.catchall_zone_no, po.local_zone_no
    FROM slice AS s
    JOIN plan_of AS po ON po.own_plan_no = s.own_plan_no AND po.tariff_id = s.tariff_id
),
area AS (
    -- only devices of tariffs with a local zone look for their area code
    SELECT dev.dev_no,
           CASE WHEN dev.hi <= a.area_hi THEN a.area_lo END AS area_lo,
           CASE WHEN dev.hi <= a.area_hi THEN a.area_hi END AS area_hi
    FROM dev
    ASOF JOIN area_dim AS a ON dev.lo >= a.area_lo
    WHERE dev.local_zone_no > 0
)
SELECT dev.dev_no, dev.contract_no, dev.tariff_no, dev.plan_no, dev.cust_no, dev.special, dev.tz_no,
       dev.banded, dev.holiday_bands, dev.hset_no, dev.catchall_zone_no, dev.local_zone_no,
       area.area_lo, area.area_hi
FROM dev
LEFT JOIN area USING (dev_no);

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
