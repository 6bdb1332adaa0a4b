-- Pricing macros (docs/pricing.md). Loaded after duck/macros.sql, whose div_half_up is the one
-- rounding rule (half away from zero).

-- Epoch microseconds of a UTC calendar day's start; an empty (open) bound is -/+ "infinity".
CREATE OR REPLACE MACRO day_us(d, side) AS
    CASE WHEN d IS NULL THEN CAST(side AS BIGINT) * 9223372036854775807
         ELSE CAST(d - DATE '1970-01-01' AS BIGINT) * 86400000000 END;

-- Rated quantity of a record: seconds rounded up to the granularity (first increment, then
-- next increments), bytes, or 1 event; NULL when the record lacks what its unit needs.
CREATE OR REPLACE MACRO rated_quantity(unit, duration_s, volume_bytes, first_s, next_s) AS
    CASE unit
        WHEN 'second' THEN CASE
            WHEN duration_s <= 0 THEN 0
            WHEN duration_s <= first_s THEN first_s
            ELSE first_s + ((duration_s - first_s + next_s - 1) // next_s) * next_s
        END
        WHEN 'byte' THEN volume_bytes
        WHEN 'event' THEN 1
    END;

-- Billing period of an epoch-microsecond instant as a month index (year * 12 + month - 1), UTC.
CREATE OR REPLACE MACRO month_idx(t_us) AS
    CAST(year(DATE '1970-01-01' + CAST(t_us // 86400000000 AS INTEGER)) * 12
         + month(DATE '1970-01-01' + CAST(t_us // 86400000000 AS INTEGER)) - 1 AS INTEGER);

-- A month index as the period text YYYY-MM.
CREATE OR REPLACE MACRO period_text(m) AS printf('%04d-%02d', m // 12, m % 12 + 1);

-- One BIGINT per contract, tariff-article and period: the unit free quantities and tiers count in.
CREATE OR REPLACE MACRO group_key(contract_no, ta_no, month_idx) AS
    (CAST(contract_no AS BIGINT) << 36) + (CAST(ta_no AS BIGINT) << 16) + month_idx;

-- The name of a price source code (schemas.pricing.PRICE_SOURCES; 1 = highest precedence).
CREATE OR REPLACE MACRO price_source_name(src) AS
    ['special_friends', 'special_net', 'customer', 'promotion', 'price_list', 'tariff', 'flat'][src];

-- Seconds a time zone is ahead of UTC at an epoch second.
CREATE OR REPLACE MACRO utc_offset_s(tz, epoch_s) AS
    CAST(epoch(timezone(tz, to_timestamp(epoch_s))) AS BIGINT) - epoch_s;

-- Integer cents as DECIMAL(18,2).
CREATE OR REPLACE MACRO cents_amount(cents) AS CAST(CAST(cents AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2));

-- One integer per rate-card cell (plan, article key, zone, band); `dims` is the row of card_dims.
CREATE OR REPLACE MACRO card_key(plan_no, key_no, zone_no, band_no, dims) AS
    ((CAST(plan_no AS BIGINT) * dims.nk + key_no) * dims.nz + zone_no) * dims.nb + band_no;

-- The usage part of a record's amount in micro-units, rounded once (docs/pricing.md): its charged
-- units at their unit prices, p1 × u1 + p2 × u2 plus the full tiers between them (mid), divided
-- by the article's price quantity (price_per).
CREATE OR REPLACE MACRO usage_micro(p1, u1, p2, u2, mid, price_per) AS
    div_half_up(CAST(p1 AS HUGEINT) * u1 + CAST(p2 AS HUGEINT) * u2 + mid, price_per);

-- A record's amount: a record with charged units pays the connect fee on top of its usage, and at
-- least the minimum charge; a wholly free record and flat-price usage (source 7) pay the usage
-- only; tier flat fees come on top. NULL (unrateable) without a usage amount.
CREATE OR REPLACE MACRO record_amount(usage, quantity, free_quantity, src, connect_micro, min_charge_micro, tier_fee) AS
    CASE
        WHEN usage IS NULL THEN NULL
        WHEN quantity > free_quantity AND src <> 7 THEN greatest(connect_micro + usage, min_charge_micro) + tier_fee
        ELSE usage + tier_fee
    END;
