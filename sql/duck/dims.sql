-- Integer-coded dimensions of the registered catalog, so the per-record work joins
-- and groups on small integers and resolves names only when rows are stored.
CREATE OR REPLACE TEMP TABLE tariff_dim AS
SELECT CAST(row_number() OVER (ORDER BY t.tariff_id) AS INTEGER) AS tariff_no, t.*,
       coalesce(z.zone_no, 0) AS catchall_zone_no
FROM cat_tariffs AS t
LEFT JOIN zone_dim AS z ON z.zone_id = t.catchall_zone;

CREATE OR REPLACE TEMP TABLE contract_dim AS
SELECT CAST(row_number() OVER (ORDER BY c.contract_id) AS INTEGER) AS contract_no,
       c.contract_id, c.customer_id, c.tariff_id, t.tariff_no
FROM cat_contracts AS c
JOIN tariff_dim AS t USING (tariff_id);

CREATE OR REPLACE TEMP TABLE dev_dim AS
SELECT d.dev_no, c.contract_no, c.tariff_no, d.matched_id, d.match_kind
FROM device_intervals AS d
JOIN contract_dim AS c USING (contract_id);
