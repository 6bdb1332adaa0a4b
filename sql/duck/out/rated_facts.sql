-- Rated usage, the priced facts of each record (schemas/outputs.py RATED_USAGE without the
-- canonical record and the labels): the codes of its device ID, contract, tariff-article, zone,
-- band, price rule and price row, and its quantities and amounts as stored (DECIMAL(18,6)).
-- pipeline/price/detail.py puts the canonical record (by rid) and the labels
-- (sql/duck/out/rated_labels.sql) next to them; strings never cross from DuckDB per record.
SELECT
    rid, month_idx, dev_no, contract_no, ta_no, zone_no, band_no, ref_no, src,
    CAST(quantity AS BIGINT) AS quantity,
    CAST(free_quantity AS BIGINT) AS free_quantity,
    micro_to_amount(price_micro) AS price,
    CAST(tier_no AS BIGINT) AS tier,
    CAST(tier_before AS BIGINT) AS tier_before,
    micro_to_amount(fee_micro) AS fee,
    micro_to_amount(amount_micro) AS amount
FROM pricing
WHERE amount_micro IS NOT NULL
ORDER BY month_idx, rid  -- grouped by period, so the warehouse writes slices
