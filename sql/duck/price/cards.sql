-- The rate card split for a fast lookup: card_dims (the sizes that make card_key unique),
-- card_one (cells with one price for all time: equality join) and card_cut (cells whose price
-- changes over time, numbered `card_no`: equality join plus a time range, sql/duck/price/cut_hits.sql).
CREATE OR REPLACE TEMP TABLE card_dims AS
SELECT (SELECT coalesce(max(key_no), 0) + 1 FROM key_dim) AS nk,
       (SELECT coalesce(max(zone_no), 0) + 1 FROM zone_dim) AS nz,
       (SELECT coalesce(max(band_no), 0) + 1 FROM band_dim) AS nb;

CREATE OR REPLACE TEMP TABLE card_cells AS
SELECT card_key(r.plan_no, r.key_no, r.zone_no, r.band_no, k) AS card_key, r.*,
       count(*) OVER (PARTITION BY r.plan_no, r.key_no, r.zone_no, r.band_no) AS pieces
FROM rate_card AS r
CROSS JOIN card_dims AS k;

CREATE OR REPLACE TEMP TABLE card_one AS
SELECT * FROM card_cells WHERE pieces = 1 AND from_us = day_us(NULL, -1) AND until_us = day_us(NULL, 1);

CREATE OR REPLACE TEMP TABLE card_cut AS
SELECT CAST(row_number() OVER (ORDER BY card_key, from_us) - 1 AS INTEGER) AS card_no, *
FROM card_cells WHERE NOT (pieces = 1 AND from_us = day_us(NULL, -1) AND until_us = day_us(NULL, 1));
