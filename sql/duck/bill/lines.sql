-- The invoice lines of the run, one invoice per contract that has anything to bill: one-time
-- fees, recurring fees with charged days, usage, adjustments (bill_adjustments, from the
-- hook); every-time fees join the invoices made anyway. Lines are numbered per invoice in the
-- order one-time, recurring, every-time, usage, adjustment, then by date and article (and, for
-- lines alike in all those, by VAT rate and amount: a minimum-revenue top-up split over two VAT
-- rates gets the same numbers when the run is computed again).
WITH billable AS (
    SELECT * EXCLUDE (customer_id)
    FROM bill_candidates
    WHERE line_kind <> 'every_time' AND (days_charged IS NULL OR days_charged > 0)
),
adjustments AS (
    SELECT
        contract_id, 'adjustment' AS line_kind, NULL AS billing_type, NULL AS interval, NULL AS position_id,
        article_id, tariff_id, period,
        period_start(period) AS service_from,
        last_day(period_start(period)) AS service_to,
        CAST(0 AS BIGINT) AS records, CAST(1 AS BIGINT) AS quantity, 'piece' AS unit,
        CAST(NULL AS DECIMAL(18,6)) AS unit_price, CAST(NULL AS BIGINT) AS price_per,
        CAST(NULL AS BIGINT) AS days_charged, CAST(NULL AS BIGINT) AS days_basis, 'adjustment' AS price_source,
        CAST(net_amount * 100 AS BIGINT) AS net_cents, note, article_name,
        CAST(vat_rate AS DECIMAL(6,4)) AS vat_rate, vat_code, currency
    FROM bill_adjustments
),
due AS (
    SELECT contract_id FROM billable
    UNION
    SELECT contract_id FROM adjustments
),
every_time AS (
    SELECT e.* EXCLUDE (customer_id)
    FROM bill_candidates AS e
    SEMI JOIN due USING (contract_id)
    WHERE e.line_kind = 'every_time'
),
all_lines AS (
    SELECT * FROM billable
    UNION ALL BY NAME SELECT * FROM every_time
    UNION ALL BY NAME SELECT * FROM adjustments
)
SELECT
    *,
    row_number() OVER (
        PARTITION BY contract_id
        ORDER BY
            list_position($line_kinds, line_kind),
            service_from, article_id, coalesce(position_id, ''), period, tariff_id, service_to, vat_rate, net_cents
    ) AS line_no
FROM all_lines
