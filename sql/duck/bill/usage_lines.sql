-- Usage lines: the sum of the records' exact amounts rounded once to cents, or, for a
-- `variable_fixed` position with a price, round(price × charged / price_per), charged being the
-- quantity less the free units pricing granted.
SELECT
    a.contract_id,
    c.customer_id,
    a.tariff_id,
    a.period,
    a.article_id,
    a.unit,
    a.records,
    a.quantity,
    a.service_from,
    a.service_to,
    CASE WHEN pr.price IS NOT NULL THEN a.fixed_position_id END AS fixed_position_id,
    pr.price AS fixed_price,
    CASE WHEN pr.price IS NOT NULL THEN ar.price_per END AS price_per,
    CASE WHEN pr.price IS NOT NULL
         THEN charge_cents(to_micro(pr.price), a.charged, 1, ar.price_per)
         ELSE div_half_up(a.amount_micro, 10000)
    END AS net_cents,
    CASE WHEN pr.price IS NOT NULL THEN 'fixed: ' || pr.price_source ELSE 'rated' END AS price_source
FROM bill_usage_agg AS a
JOIN cat_contracts AS c ON c.contract_id = a.contract_id
JOIN cat_articles AS ar ON ar.article_id = a.article_id
LEFT JOIN bill_prices AS pr ON pr.position_id = a.fixed_position_id AND pr.day = a.service_from
