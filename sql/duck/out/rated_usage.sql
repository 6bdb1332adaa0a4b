-- Stored shape of rated usage (schemas/outputs.py RATED_USAGE).
SELECT
    $run_id AS run_id, period, record_key, source, source_file, source_line,
    contract_id, customer_id, tariff_id, id_type, subscriber_id, matched_id, match_kind,
    counterparty, start_time, duration_s, volume_bytes, zone_id, article_id, unit,
    CAST(quantity AS BIGINT) AS quantity,
    CAST(price AS DECIMAL(18,6)) AS price,
    CAST(price_per AS BIGINT) AS price_per,
    price_source,
    micro_to_amount(amount_micro) AS amount
FROM rated
