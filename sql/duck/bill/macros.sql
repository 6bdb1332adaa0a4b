-- Date arithmetic and proration for billing (docs/billing.md). Loaded after duck/macros.sql,
-- whose div_half_up is the one rounding rule (half away from zero).

-- d plus n calendar months, as a DATE; the day is clamped to the month's end (Jan 31 + 1 = Feb 28).
CREATE OR REPLACE MACRO add_months(d, n) AS CAST(d + to_months(CAST(n AS INTEGER)) AS DATE);

-- The first day of a billing period 'YYYY-MM'.
CREATE OR REPLACE MACRO period_start(period) AS CAST(strptime(period || '-01', '%Y-%m-%d') AS DATE);

-- Days shared by two inclusive date ranges (0 when they do not meet).
CREATE OR REPLACE MACRO overlap_days(a_from, a_to, b_from, b_to) AS
    greatest(0, date_diff('day', greatest(a_from, b_from), least(a_to, b_to)) + 1);

-- Cents of price (micro-units) × quantity × num / den, rounded once, half away from zero.
CREATE OR REPLACE MACRO charge_cents(price_micro, quantity, num, den) AS
    div_half_up(CAST(price_micro AS HUGEINT) * quantity * num, CAST(den AS HUGEINT) * 10000);

-- Integer cents as the invoice amount type DECIMAL(18,2).
CREATE OR REPLACE MACRO cents_to_amount(cents) AS CAST(CAST(cents AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2));

-- An invoice number: the sequence, a dash and the running number padded to `width` digits.
CREATE OR REPLACE MACRO invoice_number(sequence_id, no, width) AS
    sequence_id || '-' || lpad(CAST(no AS VARCHAR), CAST(greatest(width, length(CAST(no AS VARCHAR))) AS INTEGER), '0');
