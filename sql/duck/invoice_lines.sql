-- Usage invoice lines: one per contract, billing period and article. The line amount
-- is the sum of its records' exact micro-unit amounts, rounded once to cents.
SELECT
    $run_id AS run_id,
    period,
    contract_id,
    any_value(customer_id) AS customer_id,
    article_id,
    any_value(article_name) AS article_name,
    any_value(unit) AS unit,
    count(*) AS records,
    sum(quantity)::BIGINT AS quantity,
    micro_to_cents(sum(amount_micro)) AS net_amount,
    CAST(any_value(vat_rate) AS DECIMAL(6,4)) AS vat_rate,
    any_value(currency) AS currency
FROM rated
GROUP BY period, contract_id, article_id
ORDER BY period, contract_id, article_id
