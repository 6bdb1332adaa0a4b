-- Move a run's rows from the temporary staging table (filled by binary COPY) into the stored
-- table. {table}, {staging}: quoted identifiers; {columns}: the stored columns in order;
-- {values}: one expression per column (a plain column, or money_from_units.sql).
INSERT INTO {table} ({columns}) SELECT {values} FROM {staging}
