-- The records to price, with their special price (special_hits, levels 1-2 of the precedence)
-- in place of the price rated_records found: table `price_base`, one row per assigned record.
-- Records that count toward a free quantity or tiers (`counted`) carry their group (gk) and a
-- 128-bit walk key that orders them by group, then start (to the millisecond), then input row:
-- pipeline/price/walk.py walks them and sql/duck/priced_usage.sql prices them. Every other
-- record has all its units charged at its price, and its amount is final here.
WITH priced AS (
    SELECT
        v.rid, v.dev_no, v.contract_no, v.ta_no, v.zone_no, v.band_no, v.month_idx,
        v.duration_s, v.volume_bytes, v.quantity, v.counted, v.t_us,
        coalesce(h.price_micro, v.price_micro) AS price_micro,
        coalesce(h.src, v.src) AS src,
        coalesce(h.ref_no, v.ref_no) AS ref_no
    FROM rated_records AS v
    LEFT JOIN special_hits AS h ON h.rid = (CASE WHEN v.cp_key IS NOT NULL THEN v.rid END)
),
plain AS (
    SELECT p.* EXCLUDE (t_us),
           CASE WHEN p.counted THEN group_key(p.contract_no, p.ta_no, p.month_idx) END AS gk,
           CASE WHEN p.counted THEN
               (CAST(group_key(p.contract_no, p.ta_no, p.month_idx) AS HUGEINT) << 63)
               | (CAST((p.t_us - day_us(make_date(p.month_idx // 12, p.month_idx % 12 + 1, 1), 0)) // 1000 AS HUGEINT) << 31)
               | p.rid
           END AS walk_key,
           CASE WHEN NOT p.counted AND p.quantity IS NOT NULL
                THEN usage_micro(p.price_micro, p.quantity, 0, 0, 0, ta.price_per) END AS usage,
           ta.connect_micro, ta.min_charge_micro
    FROM priced AS p
    LEFT JOIN ta_dim AS ta ON ta.ta_no = p.ta_no
),
amounts AS (
    SELECT *, record_amount(usage, quantity, 0, src, connect_micro, min_charge_micro, 0) AS amount_micro
    FROM plain
)
SELECT * EXCLUDE (usage, connect_micro, min_charge_micro), amount_micro - usage AS fee_micro
FROM amounts
