-- The records that count toward a free quantity or tiers, as pipeline/price/walk.py walks them
-- (their amounts come after the walk, in sql/duck/priced_usage.sql).
SELECT * EXCLUDE (fee_micro, amount_micro) FROM price_base WHERE counted
