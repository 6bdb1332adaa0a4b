-- Usage invoice lines: one per contract, billing period and article. The line amount
-- is the sum of its records' exact micro-unit amounts, rounded once to cents.
WITH by_card AS (
    SELECT month_key, contract_no, card_no, count(*) AS records, sum(quantity) AS quantity, sum(amount_micro) AS amount_micro
    FROM pricing
    WHERE amount_micro IS NOT NULL
    GROUP BY month_key, contract_no, card_no
)
SELECT
    $run_id AS run_id,
    printf('%04d-%02d', b.month_key // 100, b.month_key % 100) AS period,
    c.contract_id,
    any_value(c.customer_id) AS customer_id,
    rc.article_id,
    any_value(rc.article_name) AS article_name,
    any_value(rc.unit) AS unit,
    CAST(sum(b.records) AS BIGINT) AS records,
    CAST(sum(b.quantity) AS BIGINT) AS quantity,
    micro_to_cents(sum(b.amount_micro)) AS net_amount,
    any_value(rc.vat_rate) AS vat_rate,
    any_value(rc.currency) AS currency
FROM by_card AS b
JOIN contract_dim AS c USING (contract_no)
JOIN rate_card AS rc USING (card_no)
GROUP BY b.month_key, c.contract_id, rc.article_id
ORDER BY period, c.contract_id, rc.article_id
