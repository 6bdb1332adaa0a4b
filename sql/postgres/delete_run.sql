-- Remove one run's rows from one table before its rows are loaded again. {table}: a quoted
-- identifier (psycopg.sql.Identifier); $1: run_id.
DELETE FROM {table} WHERE run_id = $1::text
