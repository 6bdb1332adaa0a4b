-- The records to price, with their special price (special_hits, levels 1-2 of the precedence)
-- in place of the price rated_records found: what pipeline/price/walk.py walks. Records that
-- count toward a free quantity or tiers carry their group (gk) and a 128-bit walk key that
-- orders them by group, then start (to the millisecond), then input row.
SELECT
    v.rid, v.dev_no, v.contract_no, v.ta_no, v.zone_no, v.band_no, v.month_idx,
    v.duration_s, v.volume_bytes, v.quantity, v.counted,
    coalesce(h.price_micro, v.price_micro) AS price_micro,
    coalesce(h.src, v.src) AS src,
    coalesce(h.ref_no, v.ref_no) AS ref_no,
    CASE WHEN v.counted THEN group_key(v.contract_no, v.ta_no, v.month_idx) END AS gk,
    CASE WHEN v.counted THEN
        (CAST(group_key(v.contract_no, v.ta_no, v.month_idx) AS HUGEINT) << 63)
        | (CAST((v.t_us - day_us(make_date(v.month_idx // 12, v.month_idx % 12 + 1, 1), 0)) // 1000 AS HUGEINT) << 31)
        | v.rid
    END AS walk_key
FROM rated_records AS v
LEFT JOIN special_hits AS h ON h.rid = (CASE WHEN v.cp_key IS NOT NULL THEN v.rid END)
