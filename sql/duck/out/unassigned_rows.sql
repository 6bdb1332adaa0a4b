-- The assignment rows of the unassigned records, in batch order (rid): what sql/duck/out/unassigned.sql
-- reads as `outcome_rows`, their batch rows those it reads as `usage_rows`.
SELECT rid, id_parsed, id_known FROM assignment WHERE dev_no IS NULL ORDER BY rid
