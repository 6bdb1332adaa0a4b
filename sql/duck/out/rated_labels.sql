-- The labels of the codes of the rated facts (pipeline/price/detail.py rated_facts): one query per code, its first column
-- the code (named as in the facts), the others the stored columns it stands for.
-- `rated_months`: the distinct month_idx of the facts.
SELECT dev_no, matched_id, match_kind FROM device_intervals;
SELECT contract_no, contract_id, customer_id FROM contract_dim;
SELECT ta_no, tariff_id, article_id, unit, CAST(price_per AS BIGINT) AS price_per FROM ta_dim;
SELECT zone_no, zone_id FROM zone_dim;
SELECT band_no, band FROM band_dim;
SELECT ref_no, ref AS price_ref FROM price_ref_dim;
SELECT CAST(i AS TINYINT) AS src, price_source_name(i) AS price_source FROM range(1, 8) AS s(i);
SELECT month_idx, period_text(month_idx) AS period FROM rated_months;
