-- The usage lines minimum revenue and cost cap are computed on (schemas.billing.USAGE_LINE_SCHEMA):
-- the whole of each period the run settles (bill_adjustment_periods): this run's usage lines and
-- those earlier committed runs billed (st_invoice_items). An earlier line's tariff is the one
-- its billed records were rated under (st_billed_usage, bill_rated_earlier: rated_usage and the
-- settled files of these periods, which rated_usage leaves out). When one invoice has
-- lines of one article under two tariffs (a tariff change), lines and tariffs are paired in the
-- order of their record counts and amounts, so each tariff gets one line even when the counts tie
-- (with one tariff, every line of the article is its).
-- A period settled without any usage line (bill_adjustment_periods.tariff_id set) comes as one
-- line of its tariff with no article, 0 records and 0.00: pricing's rule then bills the tariff's
-- whole minimum revenue at the tariff's VAT rate (docs/pricing.md rule 11).
WITH earlier_periods AS (
    SELECT DISTINCT i.contract_id, i.period
    FROM st_invoice_items AS i
    SEMI JOIN bill_adjustment_periods AS p USING (contract_id, period)
    WHERE i.line_kind = 'usage'
),
earlier_tariffs AS (
    SELECT *,
           row_number() OVER (PARTITION BY invoice_id, contract_id, period, article_id ORDER BY records, net_amount, tariff_id) AS pair,
           count(*) OVER (PARTITION BY invoice_id, contract_id, period, article_id) AS tariffs
    FROM (
        SELECT b.invoice_id, r.contract_id, CAST(r.period AS VARCHAR) AS period, r.article_id, r.tariff_id,
               count(*) AS records, micro_to_cents(sum(to_micro(r.amount))) AS net_amount
        FROM bill_rated_earlier AS r
        JOIN earlier_periods AS p ON p.contract_id = r.contract_id AND p.period = CAST(r.period AS VARCHAR)
        JOIN st_billed_usage AS b ON b.record_key = r.record_key AND b.rated_run_id = r.run_id
        GROUP BY ALL
    )
),
earlier_lines AS (
    SELECT i.*, row_number() OVER (PARTITION BY i.invoice_id, i.contract_id, i.period, i.article_id ORDER BY i.records, i.net_amount, i.line_no) AS pair
    FROM st_invoice_items AS i
    SEMI JOIN bill_adjustment_periods AS p USING (contract_id, period)
    WHERE i.line_kind = 'usage'
),
earlier AS (
    SELECT i.contract_id, c.customer_id, coalesce(t.tariff_id, c.tariff_id) AS tariff_id, i.period, i.article_id,
           i.records, i.quantity, i.net_amount, i.vat_rate, i.vat_code, i.currency
    FROM earlier_lines AS i
    JOIN cat_contracts AS c ON c.contract_id = i.contract_id
    LEFT JOIN earlier_tariffs AS t
        ON t.invoice_id = i.invoice_id AND t.contract_id = i.contract_id AND t.period = i.period
        AND t.article_id = i.article_id AND (t.pair = i.pair OR t.tariffs = 1)  -- one tariff: every line is its
)
SELECT
    contract_id, customer_id, tariff_id, period, article_id, records, quantity,
    cents_to_amount(net_cents) AS net_amount,
    vat_rate, vat_code, currency
FROM bill_candidates
SEMI JOIN bill_adjustment_periods USING (contract_id, period)
WHERE line_kind = 'usage'
UNION ALL
SELECT contract_id, customer_id, tariff_id, period, article_id, records, quantity, net_amount, vat_rate, vat_code, currency
FROM earlier
UNION ALL
SELECT p.contract_id, c.customer_id, p.tariff_id, p.period, CAST(NULL AS VARCHAR), CAST(0 AS BIGINT), CAST(0 AS BIGINT),
       CAST(0 AS DECIMAL(18,2)), CAST(NULL AS DECIMAL(6,4)), cu.vat_treatment, t.currency
FROM bill_adjustment_periods AS p
JOIN cat_contracts AS c ON c.contract_id = p.contract_id
JOIN cat_customers AS cu ON cu.customer_id = c.customer_id
JOIN cat_tariffs AS t ON t.tariff_id = p.tariff_id
ORDER BY contract_id, period, tariff_id, article_id
