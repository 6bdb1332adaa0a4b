-- Fees with their price and amount (docs/billing.md):
--   net = round(unit_price × quantity × days_charged / days_basis), once, half away from zero;
--   days_basis is the period's days under the tariff's proration `days`, and the active days
--   under `full` (a partial first or last period is then charged whole); paused days are never
--   charged. One-time and every-time fees: net = round(unit_price × quantity).
-- Fees without a price are left out here and reported by problems.sql.
SELECT
    r.*,
    pr.tariff_id,
    pr.price AS unit_price,
    pr.price_source,
    CASE WHEN r.line_kind = 'recurring'
         THEN CASE WHEN coalesce(tt.proration, 'days') = 'full' THEN r.days_active ELSE r.days_period END
    END AS days_basis,
    charge_cents(to_micro(pr.price), r.quantity, coalesce(r.days_charged, 1), coalesce(days_basis, 1)) AS net_cents
FROM bill_fee_requests AS r
JOIN bill_prices AS pr ON pr.position_id = r.position_id AND pr.day = r.price_day
LEFT JOIN bil_tariff_terms AS tt ON tt.tariff_id = pr.tariff_id
WHERE pr.price IS NOT NULL
