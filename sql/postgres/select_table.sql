-- Every row of one stored table, in no particular order. {table}: quoted identifier;
-- {values}: the columns in order (money via money_as_text.sql).
SELECT {values} FROM {table}
