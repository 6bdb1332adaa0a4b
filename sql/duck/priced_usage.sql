-- Priced usage (docs/pricing.md): view `pricing`, one row per assigned record. `price_base`
-- (sql/duck/price/base.sql) holds every record with its price, and the final amount of every
-- record that does not count toward a free quantity or tiers. `price_walked` holds the records
-- that do, walked in time order per group (contract, tariff-article, billing period) by
-- pipeline/price/walk.py: free units, and the charged units as at most two parts at their unit
-- prices (p1 × u1 + p2 × u2) plus the full tiers between them (mid), with tier fees. Both become
-- money with the same macros (sql/duck/price/macros.sql), rounded once per record:
--
-- usage:    (p1 × u1 + p2 × u2 + mid) / price_per, half away from zero, in micro-units;
-- per call: a record with charged units pays the connect fee on top, and at least the minimum
--           charge; a wholly free record and flat-price usage (source 7) cost 0;
-- amount = usage + fee, fee = connect fee + minimum-charge top-up + tier flat fees.
-- A record without a price or a quantity keeps a NULL amount: it is unrateable.
WITH walked AS (
    SELECT w.*, ta.connect_micro, ta.min_charge_micro,
           CASE WHEN w.price_micro IS NOT NULL AND w.quantity IS NOT NULL
                THEN usage_micro(w.p1, w.u1, w.p2, w.u2, w.mid, ta.price_per) END AS usage
    FROM price_walked AS w
    LEFT JOIN ta_dim AS ta ON ta.ta_no = w.ta_no
),
walked_amounts AS (
    SELECT *, record_amount(usage, quantity, free_quantity, src, connect_micro, min_charge_micro, tier_fee) AS amount_micro
    FROM walked
)
SELECT
    rid, dev_no, contract_no, ta_no, zone_no, band_no, month_idx, duration_s, volume_bytes, quantity, free_quantity,
    unit_price AS price_micro, src, ref_no, tier_no, tier_before,
    amount_micro - usage AS fee_micro,
    amount_micro
FROM walked_amounts
UNION ALL
SELECT
    rid, dev_no, contract_no, ta_no, zone_no, band_no, month_idx, duration_s, volume_bytes, quantity, 0,
    price_micro, src, ref_no, NULL, NULL, fee_micro, amount_micro
FROM price_base
WHERE NOT counted
