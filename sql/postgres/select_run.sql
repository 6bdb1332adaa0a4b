-- One run's rows of one stored table, in no particular order. {table}: quoted identifier;
-- {values}: the columns in order (money via money_as_text.sql); $1: run_id.
SELECT {values} FROM {table} WHERE run_id = $1::text
