-- Stored shape of rated usage (schemas/outputs.py RATED_USAGE): the canonical record, the
-- contract it was assigned to and every input of its price (docs/pricing.md "why does this
-- record cost that?"): zone, band, article, quantity, free units, unit price, the rule that
-- set it (price_source, price_ref: file and key of the price row), tier, fees and amount.
SELECT
    $run_id AS run_id,
    period_text(p.month_idx) AS period,
    u.record_key, u.source, u.source_file, u.source_line,
    c.contract_id, c.customer_id, c.tariff_id, u.id_type, u.subscriber_id, d.matched_id, d.match_kind,
    u.counterparty, u.start_time, u.duration_s, u.volume_bytes, u.article_key, u.billable,
    z.zone_id, b.band, ta.article_id, ta.unit,
    CAST(p.quantity AS BIGINT) AS quantity,
    CAST(p.free_quantity AS BIGINT) AS free_quantity,
    micro_to_amount(p.price_micro) AS price,
    CAST(ta.price_per AS BIGINT) AS price_per,
    price_source_name(p.src) AS price_source,
    r.ref AS price_ref,
    CAST(p.tier_no AS BIGINT) AS tier,
    CAST(p.tier_before AS BIGINT) AS tier_before,
    micro_to_amount(p.fee_micro) AS fee,
    micro_to_amount(p.amount_micro) AS amount
FROM pricing AS p
JOIN usage_in AS u USING (rid)
JOIN dev_dim AS d USING (dev_no)
JOIN contract_dim AS c ON c.contract_no = p.contract_no
JOIN ta_dim AS ta ON ta.ta_no = p.ta_no
LEFT JOIN zone_dim AS z ON z.zone_no = p.zone_no
LEFT JOIN band_dim AS b ON b.band_no = p.band_no
LEFT JOIN price_ref_dim AS r ON r.ref_no = p.ref_no
WHERE p.amount_micro IS NOT NULL
