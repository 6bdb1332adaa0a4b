-- The pricing rows of the unrateable records, in batch order (rid): what sql/duck/out/unrateable.sql
-- reads as `outcome_rows`, their batch rows those it reads as `usage_rows`. The one scan of the
-- batch-long `pricing` the outcome makes: the shaping query then joins just these rows.
-- A record without a contract (unassigned) has no amount either: it is no unrateable record.
SELECT rid, dev_no, contract_no, ta_no, zone_no, band_no, quantity, price_micro
FROM pricing
WHERE amount_micro IS NULL AND contract_no IS NOT NULL
ORDER BY rid
