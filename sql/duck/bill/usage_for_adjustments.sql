-- The run's usage lines as the adjustment hook receives them (schemas.billing.USAGE_LINE_SCHEMA).
SELECT
    contract_id, customer_id, tariff_id, period, article_id, records, quantity,
    cents_to_amount(net_cents) AS net_amount,
    vat_rate, vat_code, currency
FROM bill_candidates
WHERE line_kind = 'usage'
ORDER BY contract_id, period, tariff_id, article_id
