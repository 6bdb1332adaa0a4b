-- Invoice headers, one per contract with lines, numbered without gaps per sequence: the
-- contract's sequence (else the general one; test accounts always the test sequence)
-- continues after the last number any committed run used (st_last_numbers), in contract order.
-- Addressee: the billing address valid on the invoice date (bill_addresses_on), else the
-- customer's name.
-- Payment terms: the contract's, else the general ones.
WITH totals AS (
    SELECT contract_id, count(*) AS lines, sum(net_cents) AS net_cents
    FROM bill_lines
    GROUP BY contract_id
),
taxes AS (
    SELECT contract_id, sum(vat_cents) AS vat_cents
    FROM bill_vat
    GROUP BY contract_id
),
head AS (
    SELECT
        d.*,
        c.customer_id,
        cu.customer_number,
        cu.name AS customer_name,
        cu.vat_treatment,
        cu.is_test,
        t.currency,
        CASE WHEN cu.is_test THEN s.test_sequence_id ELSE coalesce(ct.sequence_id, s.sequence_id) END AS sequence_id,
        s.number_width,
        coalesce(ct.payment_days, s.payment_days) AS payment_days,
        coalesce(ct.payment_terms, s.payment_terms) AS payment_terms,
        ct.po_number
    FROM totals AS d
    JOIN cat_contracts AS c USING (contract_id)
    JOIN cat_customers AS cu ON cu.customer_id = c.customer_id
    JOIN cat_tariffs AS t ON t.tariff_id = c.tariff_id
    LEFT JOIN bil_contract_terms AS ct ON ct.contract_id = d.contract_id
    CROSS JOIN bil_billing_settings AS s
),
numbered AS (
    SELECT h.*, coalesce(n.last_no, 0) + row_number() OVER (PARTITION BY h.sequence_id ORDER BY h.contract_id) AS sequence_no
    FROM head AS h
    LEFT JOIN st_last_numbers AS n USING (sequence_id)
),
recipients AS (
    SELECT contract_id, string_agg(email || ' (' || delivery || ')', '; ' ORDER BY email) AS recipients
    FROM bil_recipients
    GROUP BY contract_id
)
SELECT
    $run_id AS run_id,
    invoice_number(n.sequence_id, n.sequence_no, n.number_width) AS invoice_id,
    n.sequence_id,
    CAST(n.sequence_no AS BIGINT) AS sequence_no,
    $kind AS kind,
    CAST($period AS VARCHAR) AS period,
    CAST($invoice_date AS DATE) AS invoice_date,
    CAST($until AS DATE) AS billed_until,
    CAST(CAST($invoice_date AS DATE) + CAST(n.payment_days AS INTEGER) AS DATE) AS due_date,
    n.contract_id,
    n.customer_id,
    n.customer_number,
    n.po_number,
    coalesce(a.name, n.customer_name) AS bill_to_name,
    a.street AS bill_to_street,
    a.postal_code AS bill_to_postal_code,
    a.city AS bill_to_city,
    a.country AS bill_to_country,
    n.payment_terms,
    CAST(n.payment_days AS BIGINT) AS payment_days,
    r.recipients,
    n.vat_treatment,
    n.currency,
    CAST(n.lines AS BIGINT) AS lines,
    cents_to_amount(n.net_cents) AS net_total,
    cents_to_amount(coalesce(x.vat_cents, 0)) AS vat_total,
    cents_to_amount(n.net_cents + coalesce(x.vat_cents, 0)) AS gross_total,
    n.is_test
FROM numbered AS n
LEFT JOIN taxes AS x USING (contract_id)
LEFT JOIN bill_addresses_on AS a USING (contract_id)
LEFT JOIN recipients AS r USING (contract_id)
