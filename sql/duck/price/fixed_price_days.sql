-- The (position, day) prices cost control needs (duck/bill/position_prices.sql reads them as
-- price_days): each fixed-price usage day's position on that day, as billing asks.
SELECT DISTINCT fixed_position_id AS position_id, service_from AS day
FROM bill_usage_agg
WHERE fixed_position_id IS NOT NULL
