-- Money and rounding: the one place where amounts are rounded (see docs/money.md).
--
-- Amounts are computed in integer micro-units (1e-6 of the currency) with HUGEINT
-- intermediates, so nothing is ever a binary float. Division rounds half away
-- from zero ("half-up" for positive amounts), and so does every rounding below.

-- x / d rounded half away from zero; x and d integers, d > 0.
CREATE OR REPLACE MACRO div_half_up(x, d) AS
    CAST(sign(x) * ((abs(CAST(x AS HUGEINT)) * 2 + d) // (2 * d)) AS BIGINT);

-- Whether a catalog row valid [valid_from, valid_until) (empty: open) holds on `day`.
CREATE OR REPLACE MACRO valid_on(valid_from, valid_until, day) AS
    (valid_from IS NULL OR valid_from <= day) AND (valid_until IS NULL OR valid_until > day);

-- A price given as DECIMAL(18,6) in integer micro-units (the product is formed in 38 digits:
-- in DECIMAL(18,6) it would overflow from 1 000 000.00 on).
CREATE OR REPLACE MACRO to_micro(price) AS CAST(CAST(price AS DECIMAL(38,6)) * 1000000 AS BIGINT);

-- Micro-units as the per-record amount type: DECIMAL(18,6), exact.
CREATE OR REPLACE MACRO micro_to_amount(micro) AS CAST(CAST(micro AS DECIMAL(18,0)) * 0.000001 AS DECIMAL(18,6));

-- Micro-units summed on an invoice line, rounded half away from zero to cents: DECIMAL(18,2).
CREATE OR REPLACE MACRO micro_to_cents(micro) AS
    CAST(CAST(div_half_up(micro, 10000) AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2));

-- Phone numbers as interval keys (docs/assignment.md).
--
-- A number of n ≤ 15 digits without a leading zero (E.164 digits; the test of
-- pipeline/assign/keys.py phone_key, so that a reason's test agrees with pricing's) maps to (its digits right-padded with 0 to 15 digits) * 16 + n.
-- A head-data ID (prefix) of L digits covers [key(prefix), (prefix right-padded with 9) * 16 + 15]:
-- exactly the numbers that start with it and are at least L digits long. Keys fit BIGINT.
CREATE OR REPLACE MACRO phone_key(n) AS
    CASE WHEN regexp_full_match(n, '[1-9][0-9]{0,14}')
         THEN CAST(rpad(n, 15, '0') AS BIGINT) * 16 + length(n) END;

CREATE OR REPLACE MACRO phone_prefix_hi(n) AS
    CASE WHEN regexp_full_match(n, '[1-9][0-9]{0,14}')
         THEN CAST(rpad(n, 15, '9') AS BIGINT) * 16 + 15 END;

-- Time zones: DuckDB's zone data (ICU) is the one the project converts local times with
-- (readers, bands, billing days; docs/formats.md).

-- Seconds a time zone is ahead of UTC at an epoch second.
CREATE OR REPLACE MACRO utc_offset_s(tz, epoch_s) AS
    CAST(epoch(timezone(tz, to_timestamp(epoch_s))) AS BIGINT) - epoch_s;
