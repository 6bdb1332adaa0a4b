-- The batch rows (rid) of the unrateable records: those sql/duck/out/unrateable.sql reads as `usage_rows`.
-- A record without a contract (unassigned) has no amount either: it is no unrateable record.
SELECT rid FROM pricing WHERE amount_micro IS NULL AND contract_no IS NOT NULL ORDER BY rid
