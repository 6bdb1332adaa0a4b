-- The columns of one schema's tables as PostgreSQL sees them, to compare with their Arrow schemas
-- (schemas/outputs.py for `rating`, schemas/billing.py for `billing` and `billing_test`).
-- $1: the schema.
SELECT
    c.table_name::text AS table_name,
    c.column_name::text AS column_name,
    c.data_type::text AS data_type,
    c.numeric_precision::bigint AS numeric_precision,
    c.numeric_scale::bigint AS numeric_scale,
    (c.is_nullable = 'YES') AS nullable
FROM information_schema.columns AS c
WHERE c.table_schema = $1::text
ORDER BY c.table_name, c.ordinal_position
