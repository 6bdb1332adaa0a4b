-- Cost control for one billing period (DOMAIN §4, docs/pricing.md). Reads `rated_usage`
-- (schemas.outputs.RATED_USAGE, all runs) and the catalog's cc_tariffs (tariff_id, cost_cap,
-- tolerance_pct, currency), cc_flags (tariff_id, article_id, cost_cap), cc_flat (tariff_id,
-- article_id, flat_price, reference_price, price_per), and billing's usage lines of the period's
-- variable_fixed positions: bill_usage_lines (duck/bill/usage_lines.sql, with each line's rated
-- amounts), built on fixed_usage.sql.
--
-- flat_price:  a flat-price article's usage valued at its reference price (all units, free ones
--              too, rounded once to cents) exceeds the flat price by more than the tolerance;
-- fixed_price: a variable_fixed position's usage line valued at its rated amounts (rounded once
--              to cents, as a rated line is invoiced) exceeds what the position's price bills,
--              round(price × charged / price_per), by more than the tolerance;
-- cost_cap:   the flagged usage lines (each rounded to cents, as invoiced) reach the cost cap;
--             status over_tolerance when they exceed it by more than the tolerance.
WITH usage AS (
    SELECT contract_id, any_value(customer_id) AS customer_id, tariff_id, article_id,
           sum(quantity) AS quantity, sum(to_micro(amount)) AS amount_micro
    FROM rated_usage
    WHERE period = $period
    GROUP BY contract_id, tariff_id, article_id
),
flat AS (
    SELECT u.contract_id, u.customer_id, u.tariff_id, 'flat_price' AS rule, u.article_id, CAST(NULL AS VARCHAR) AS position_id, u.quantity,
           div_half_up(CAST(to_micro(f.reference_price) AS HUGEINT) * u.quantity, CAST(f.price_per AS HUGEINT) * 10000) AS value_cents,
           div_half_up(to_micro(f.flat_price), 10000) AS limit_cents
    FROM usage AS u
    JOIN cc_flat AS f USING (tariff_id, article_id)
),
fixed AS (
    SELECT l.contract_id, l.customer_id, l.tariff_id, 'fixed_price' AS rule, l.article_id, l.fixed_position_id AS position_id,
           l.quantity, div_half_up(l.amount_micro, 10000) AS value_cents, l.net_cents AS limit_cents
    FROM bill_usage_lines AS l
    WHERE l.fixed_position_id IS NOT NULL AND l.period = $period
),
capped AS (
    SELECT u.contract_id, any_value(u.customer_id) AS customer_id, u.tariff_id, 'cost_cap' AS rule,
           CAST(NULL AS VARCHAR) AS article_id, CAST(NULL AS VARCHAR) AS position_id, sum(u.quantity) AS quantity,
           sum(div_half_up(u.amount_micro, 10000)) AS value_cents,
           div_half_up(to_micro(any_value(t.cost_cap)), 10000) AS limit_cents
    FROM usage AS u
    JOIN cc_flags AS f USING (tariff_id, article_id)
    JOIN cc_tariffs AS t USING (tariff_id)
    WHERE f.cost_cap AND t.cost_cap IS NOT NULL
    GROUP BY u.contract_id, u.tariff_id
),
checked AS (
    SELECT c.*, coalesce(t.tolerance_pct, 0) AS tolerance_pct, t.currency,
           CAST(c.value_cents AS HUGEINT) * 10000 > CAST(c.limit_cents AS HUGEINT) * (10000 + CAST(coalesce(t.tolerance_pct, 0) * 100 AS BIGINT)) AS over_tolerance
    FROM (SELECT * FROM flat UNION ALL SELECT * FROM fixed UNION ALL SELECT * FROM capped) AS c
    JOIN cc_tariffs AS t USING (tariff_id)
)
SELECT
    $period AS period, contract_id, customer_id, tariff_id, rule, article_id, position_id,
    CAST(quantity AS BIGINT) AS quantity,
    cents_amount(value_cents) AS usage_value,
    cents_amount(limit_cents) AS limit_amount,
    cents_amount(value_cents - limit_cents) AS excess,
    CASE WHEN limit_cents > 0
         THEN CAST(CAST(div_half_up((value_cents - limit_cents) * 10000, limit_cents) AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2))
    END AS excess_pct,
    CAST(tolerance_pct AS DECIMAL(6,2)) AS tolerance_pct,
    CASE WHEN over_tolerance THEN 'over_tolerance' ELSE 'cap_reached' END AS status,
    currency
FROM checked
WHERE over_tolerance OR (rule = 'cost_cap' AND value_cents >= limit_cents)
ORDER BY rule DESC, excess_pct DESC NULLS LAST, contract_id, position_id
