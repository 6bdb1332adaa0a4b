-- Stored shape of rated usage (schemas/outputs.py RATED_USAGE): the canonical record,
-- the contract it was assigned to and every input of its price.
SELECT
    $run_id AS run_id,
    printf('%04d-%02d', p.month_key // 100, p.month_key % 100) AS period,
    u.record_key, u.source, u.source_file, u.source_line,
    c.contract_id, c.customer_id, c.tariff_id, u.id_type, u.subscriber_id, d.matched_id, d.match_kind,
    u.counterparty, u.start_time, u.duration_s, u.volume_bytes, u.article_key, u.billable,
    z.zone_id, rc.article_id, rc.unit,
    CAST(p.quantity AS BIGINT) AS quantity,
    micro_to_amount(rc.price_micro) AS price,
    CAST(rc.price_per AS BIGINT) AS price_per,
    'tariff' AS price_source,
    micro_to_amount(p.amount_micro) AS amount
FROM pricing AS p
JOIN usage_in AS u USING (rid)
JOIN dev_dim AS d USING (dev_no)
JOIN contract_dim AS c ON c.contract_no = p.contract_no
JOIN rate_card AS rc ON rc.card_no = p.card_no
LEFT JOIN zone_dim AS z ON z.zone_no = p.zone_no
WHERE p.amount_micro IS NOT NULL
