-- Fees with their price and amount (docs/billing.md, "Periods" and "Prices"), one row per
-- price part: the parts of fee_parts.sql, adjacent ones with the same tariff, price and price
-- source joined again, so a period without a price change stays one row. Each part:
--   net = round(unit_price × quantity × days_charged / days_basis), once, half away from zero;
--   days_charged = the part's days − its paused days;
--   days_basis = the period's days under the proration `days` of the tariff on the period's
--   first billable day, the fee's active days in the period under `full` (a partial first or
--   last period is then charged whole; a price change still splits it by days).
-- One-time and every-time fees: net = round(unit_price × quantity); they have no paused days
-- (fee_requests.sql dates them on a day that is not paused, or leaves them out).
-- A fee with any part without a price is left out whole here, and so is every later period of
-- its position: billed-until (state.sql) never passes a period not billed yet, so the run after
-- the catalog has the price bills them all in order. problems.sql reports both.
WITH parts AS (
    SELECT f.position_id, f.fee_from, f.part_from, f.part_to, pr.tariff_id, pr.price, pr.price_source
    FROM bill_fee_parts AS f
    JOIN bill_prices AS pr ON pr.position_id = f.position_id AND pr.day = f.part_from
),
held AS (
    -- each position's first period with a part without a price
    SELECT position_id, min(fee_from) AS held_from
    FROM parts
    WHERE price IS NULL
    GROUP BY position_id
),
priced AS (
    SELECT
        *,
        first_value(tariff_id) OVER w AS first_tariff_id,
        (lag(price) OVER w IS DISTINCT FROM price
            OR lag(price_source) OVER w IS DISTINCT FROM price_source
            OR lag(tariff_id) OVER w IS DISTINCT FROM tariff_id) AS new_part
    FROM parts
    LEFT JOIN held USING (position_id)
    WHERE held.held_from IS NULL OR parts.fee_from < held.held_from
    WINDOW w AS (PARTITION BY position_id, fee_from ORDER BY part_from)
),
numbered AS (
    SELECT *, sum(CAST(new_part AS INTEGER)) OVER (PARTITION BY position_id, fee_from ORDER BY part_from) AS price_part
    FROM priced
),
merged AS (
    SELECT
        position_id, fee_from, price_part,
        min(part_from) AS bill_from,
        max(part_to) AS bill_to,
        any_value(tariff_id) AS tariff_id,
        any_value(first_tariff_id) AS first_tariff_id,
        any_value(price) AS unit_price,
        any_value(price_source) AS price_source
    FROM numbered
    GROUP BY position_id, fee_from, price_part
),
split AS (
    SELECT
        r.* EXCLUDE (bill_from, bill_to),
        m.bill_from,
        m.bill_to,
        m.bill_from AS price_day,
        m.price_part,
        max(m.price_part) OVER (PARTITION BY m.position_id, m.fee_from) AS price_parts,
        m.tariff_id,
        m.first_tariff_id,
        m.unit_price,
        m.price_source
    FROM bill_fee_requests AS r
    JOIN merged AS m USING (position_id, fee_from)
),
paused AS (
    SELECT s.position_id, s.fee_from, s.price_part, sum(overlap_days(s.bill_from, s.bill_to, z.paused_from, z.paused_through)) AS paused_days
    FROM split AS s
    JOIN bil_pauses AS z
        ON z.contract_id = s.contract_id AND z.paused_from <= s.bill_to AND z.paused_through >= s.bill_from
    WHERE s.line_kind = 'recurring'
    GROUP BY s.position_id, s.fee_from, s.price_part
),
charged AS (
    SELECT
        s.* EXCLUDE (first_tariff_id),
        CASE WHEN s.line_kind = 'recurring'
             THEN CAST(date_diff('day', s.bill_from, s.bill_to) + 1 - coalesce(z.paused_days, 0) AS BIGINT)
        END AS days_charged,
        CASE WHEN s.line_kind = 'recurring' THEN CAST(coalesce(z.paused_days, 0) AS BIGINT) END AS days_paused,
        CASE WHEN s.line_kind = 'recurring'
             THEN CASE WHEN coalesce(tt.proration, 'days') = 'full' THEN s.days_active ELSE s.days_period END
        END AS days_basis
    FROM split AS s
    LEFT JOIN paused AS z USING (position_id, fee_from, price_part)
    LEFT JOIN bil_tariff_terms AS tt ON tt.tariff_id = s.first_tariff_id
)
SELECT
    *,
    charge_cents(to_micro(unit_price), quantity, coalesce(days_charged, 1), coalesce(days_basis, 1)) AS net_cents
FROM charged
