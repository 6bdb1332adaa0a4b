-- Every (position, day) whose price the run needs: each price part of a fee on its first day
-- (fee_parts.sql), fixed-price usage on each of its days (usage_aggregates.sql).
SELECT position_id, part_from AS day FROM bill_fee_parts
UNION
SELECT fixed_position_id, service_from FROM bill_usage_agg WHERE fixed_position_id IS NOT NULL
