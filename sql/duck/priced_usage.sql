-- Priced usage (docs/pricing.md): view `pricing`. `price_walked` holds the records that count
-- toward a free quantity or tiers, walked in time order per group (contract, tariff-article,
-- billing period) by pipeline/price/walk.py: free units, and the charged units as at most two
-- parts at their unit prices (p1 × u1 + p2 × u2) plus the full tiers between them (mid), with
-- tier fees. Every other record of `price_base` has all its units charged at its price. Here both
-- become money, rounded once per record (sql/duck/macros.sql):
--
-- usage:    (p1 × u1 + p2 × u2 + mid) / price_per, half away from zero, in micro-units;
-- per call: a record with charged units pays the connect fee on top, and at least the minimum
--           charge; a wholly free record and flat-price usage (source 7) cost 0;
-- amount = usage + fee, fee = connect fee + minimum-charge top-up + tier flat fees.
-- A record without a price or a quantity keeps a NULL amount: it is unrateable.
WITH records AS (
    SELECT rid, dev_no, contract_no, ta_no, zone_no, band_no, month_idx, duration_s, volume_bytes, quantity,
           price_micro, src, ref_no, free_quantity, p1, u1, p2, u2, mid, tier_fee, tier_no, tier_before, unit_price
    FROM price_walked
    UNION ALL
    SELECT rid, dev_no, contract_no, ta_no, zone_no, band_no, month_idx, duration_s, volume_bytes, quantity,
           price_micro, src, ref_no, 0, price_micro, quantity, 0, 0, 0, 0, NULL, NULL, price_micro
    FROM price_base
    WHERE NOT counted
),
usage AS (
    SELECT r.*, ta.price_per, ta.connect_micro, ta.min_charge_micro,
           CASE WHEN r.price_micro IS NOT NULL AND r.quantity IS NOT NULL
                THEN div_half_up(CAST(r.p1 AS HUGEINT) * r.u1 + CAST(r.p2 AS HUGEINT) * r.u2 + r.mid, ta.price_per)
           END AS usage_micro
    FROM records AS r
    LEFT JOIN ta_dim AS ta ON ta.ta_no = r.ta_no
),
amounts AS (
    SELECT *,
           CASE
               WHEN usage_micro IS NULL THEN NULL
               WHEN quantity > free_quantity AND src <> 7
                   THEN greatest(connect_micro + usage_micro, min_charge_micro) + tier_fee
               ELSE usage_micro + tier_fee
           END AS amount_micro
    FROM usage
)
SELECT
    rid, dev_no, contract_no, ta_no, zone_no, band_no, month_idx, duration_s, volume_bytes, quantity, free_quantity,
    unit_price AS price_micro, src, ref_no, tier_no, tier_before,
    amount_micro - usage_micro AS fee_micro,
    amount_micro
FROM amounts
