-- The batch rows (rid) of the unassigned records: those sql/duck/out/unassigned.sql reads as `usage_rows`.
SELECT rid FROM assignment WHERE dev_no IS NULL ORDER BY rid
