-- The batch rows (rid) of the unrateable records: those sql/duck/out/unrateable.sql reads as `usage_rows`.
SELECT rid FROM pricing WHERE amount_micro IS NULL ORDER BY rid
