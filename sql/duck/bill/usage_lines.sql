-- Usage lines: the sum of the records' exact amounts rounded once to cents, or, for the days of a
-- `variable_fixed` position with a price, round(price × charged / price_per), charged being the
-- quantity less the free units pricing granted. The days of one position at one price make one
-- line (service dates: its first and last day); days without a position or without a price stay
-- at the rated amounts, in one line with the rest of the article's usage (`amount_micro`: the
-- line's rated amounts, which cost control compares with the fixed price).
WITH priced AS (
    SELECT
        a.*,
        pr.price AS fixed_price,
        CASE WHEN pr.price IS NOT NULL THEN 'fixed: ' || pr.price_source ELSE 'rated' END AS price_source
    FROM bill_usage_agg AS a
    LEFT JOIN bill_prices AS pr ON pr.position_id = a.fixed_position_id AND pr.day = a.service_from
)
SELECT
    p.contract_id,
    c.customer_id,
    p.tariff_id,
    p.period,
    p.article_id,
    any_value(p.unit) AS unit,
    CAST(sum(p.records) AS BIGINT) AS records,
    CAST(sum(p.quantity) AS BIGINT) AS quantity,
    min(p.service_from) AS service_from,
    max(p.service_to) AS service_to,
    CASE WHEN p.fixed_price IS NOT NULL THEN p.fixed_position_id END AS fixed_position_id,
    p.fixed_price,
    CASE WHEN p.fixed_price IS NOT NULL THEN any_value(ar.price_per) END AS price_per,
    CASE WHEN p.fixed_price IS NOT NULL
         THEN charge_cents(to_micro(p.fixed_price), sum(p.charged), 1, any_value(ar.price_per))
         ELSE div_half_up(sum(p.amount_micro), 10000)
    END AS net_cents,
    p.price_source,
    sum(p.amount_micro) AS amount_micro
FROM priced AS p
JOIN cat_contracts AS c ON c.contract_id = p.contract_id
JOIN cat_articles AS ar ON ar.article_id = p.article_id
GROUP BY p.contract_id, c.customer_id, p.tariff_id, p.period, p.article_id,
         CASE WHEN p.fixed_price IS NOT NULL THEN p.fixed_position_id END, p.fixed_price, p.price_source
