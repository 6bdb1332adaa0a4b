-- Every (position, day) whose price the run needs: fees on their price day, fixed-price usage
-- on its line's first day.
SELECT position_id, price_day AS day FROM bill_fee_requests
UNION
SELECT fixed_position_id, service_from FROM bill_usage_agg WHERE fixed_position_id IS NOT NULL
