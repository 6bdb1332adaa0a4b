-- Pricing macros (docs/pricing.md). Loaded after duck/macros.sql, whose div_half_up is the one
-- rounding rule (half away from zero).

-- Epoch microseconds of a UTC calendar day's start; an empty (open) bound is -/+ "infinity".
CREATE OR REPLACE MACRO day_us(d, side) AS
    CASE WHEN d IS NULL THEN CAST(side AS BIGINT) * 9223372036854775807
         ELSE CAST(d - DATE '1970-01-01' AS BIGINT) * 86400000000 END;

-- A month index as the period text YYYY-MM.
CREATE OR REPLACE MACRO period_text(m) AS printf('%04d-%02d', m // 12, m % 12 + 1);

-- One BIGINT per contract, tariff-article and period: the unit free quantities and tiers count in.
CREATE OR REPLACE MACRO group_key(contract_no, ta_no, month_idx) AS
    (CAST(contract_no AS BIGINT) << 36) + (CAST(ta_no AS BIGINT) << 16) + month_idx;

-- The name of a price source code (schemas.pricing.PRICE_SOURCES; 1 = highest precedence).
CREATE OR REPLACE MACRO price_source_name(src) AS
    ['special_friends', 'special_net', 'customer', 'promotion', 'price_list', 'tariff', 'flat'][src];

-- Integer cents as DECIMAL(18,2).
CREATE OR REPLACE MACRO cents_amount(cents) AS CAST(CAST(cents AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2));

-- One integer per rate-card cell (plan, article key, zone, band); `dims` is the row of card_dims.
CREATE OR REPLACE MACRO card_key(plan_no, key_no, zone_no, band_no, dims) AS
    ((CAST(plan_no AS BIGINT) * dims.nk + key_no) * dims.nz + zone_no) * dims.nb + band_no;
