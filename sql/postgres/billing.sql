-- The invoice tables of billing runs (schemas/billing.py STORED), created in {schema}:
-- `billing` for real invoices and `billing_test` for test accounts' (kept apart, never mixed).
-- Applied by pipeline.io.postgres_billing.ensure_billing_schema; idempotent. {schema} is a
-- quoted identifier (psycopg.sql.Identifier).
--
-- Types follow the Arrow schemas exactly (tests/bill/test_bill_postgres.py compares them):
-- decimal128(18,2) -> numeric(18,2), decimal128(18,6) -> numeric(18,6), decimal128(6,4) ->
-- numeric(6,4), date32 -> date, int64 -> bigint, string -> text. Every table has run_id: a
-- run's rows are replaced as a whole.

CREATE SCHEMA IF NOT EXISTS {schema};

-- An invoice header: number, addressee, terms and totals. Numbers are unique.
CREATE TABLE IF NOT EXISTS {schema}.invoices (
    run_id              text          NOT NULL,
    invoice_id          text          NOT NULL,
    sequence_id         text          NOT NULL,
    sequence_no         bigint        NOT NULL,
    kind                text          NOT NULL,
    period              text,
    invoice_date        date          NOT NULL,
    billed_until        date          NOT NULL,
    due_date            date          NOT NULL,
    contract_id         text          NOT NULL,
    customer_id         text          NOT NULL,
    customer_number     text,
    po_number           text,
    bill_to_name        text          NOT NULL,
    bill_to_street      text,
    bill_to_postal_code text,
    bill_to_city        text,
    bill_to_country     text,
    payment_terms       text          NOT NULL,
    payment_days        bigint        NOT NULL,
    recipients          text,
    vat_treatment       text          NOT NULL,
    currency            text          NOT NULL,
    lines               bigint        NOT NULL,
    net_total           numeric(18,2) NOT NULL,
    vat_total           numeric(18,2) NOT NULL,
    gross_total         numeric(18,2) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_invoice_id ON {schema}.invoices (invoice_id);
CREATE UNIQUE INDEX IF NOT EXISTS invoices_sequence_no ON {schema}.invoices (sequence_id, sequence_no);
CREATE INDEX IF NOT EXISTS invoices_run_id ON {schema}.invoices (run_id);
CREATE INDEX IF NOT EXISTS invoices_contract_id ON {schema}.invoices (contract_id, invoice_date);

-- An invoice line: a recurring, one-time or every-time fee, usage, or an adjustment.
CREATE TABLE IF NOT EXISTS {schema}.invoice_items (
    run_id        text          NOT NULL,
    invoice_id    text          NOT NULL,
    line_no       bigint        NOT NULL,
    contract_id   text          NOT NULL,
    line_kind     text          NOT NULL,
    billing_type  text,
    "interval"    text,
    position_id   text,
    article_id    text          NOT NULL,
    article_name  text          NOT NULL,
    period        text          NOT NULL,
    service_from  date          NOT NULL,
    service_to    date          NOT NULL,
    records       bigint        NOT NULL,
    quantity      bigint        NOT NULL,
    unit          text          NOT NULL,
    unit_price    numeric(18,6),
    price_per     bigint,
    days_charged  bigint,
    days_basis    bigint,
    price_source  text,
    net_amount    numeric(18,2) NOT NULL,
    vat_rate      numeric(6,4)  NOT NULL,
    vat_code      text          NOT NULL,
    currency      text          NOT NULL,
    note          text
);
CREATE UNIQUE INDEX IF NOT EXISTS invoice_items_line ON {schema}.invoice_items (invoice_id, line_no);
CREATE INDEX IF NOT EXISTS invoice_items_run_id ON {schema}.invoice_items (run_id);

-- VAT totals of an invoice per treatment and rate.
CREATE TABLE IF NOT EXISTS {schema}.invoice_vat (
    run_id        text          NOT NULL,
    invoice_id    text          NOT NULL,
    vat_code      text          NOT NULL,
    vat_rate      numeric(6,4)  NOT NULL,
    net_amount    numeric(18,2) NOT NULL,
    vat_amount    numeric(18,2) NOT NULL,
    note          text
);
CREATE INDEX IF NOT EXISTS invoice_vat_run_id ON {schema}.invoice_vat (run_id);
CREATE INDEX IF NOT EXISTS invoice_vat_invoice_id ON {schema}.invoice_vat (invoice_id);

-- What was billed per position and period (billed-until, last invoice, history).
CREATE TABLE IF NOT EXISTS {schema}.billing_history (
    run_id        text          NOT NULL,
    invoice_id    text,
    contract_id   text          NOT NULL,
    position_id   text          NOT NULL,
    billing_type  text          NOT NULL,
    period_start  date          NOT NULL,
    period_end    date          NOT NULL,
    days_charged  bigint,
    net_amount    numeric(18,2) NOT NULL
);
CREATE INDEX IF NOT EXISTS billing_history_run_id ON {schema}.billing_history (run_id);
CREATE INDEX IF NOT EXISTS billing_history_position ON {schema}.billing_history (position_id, period_end);

-- Which rated usage records an invoice billed; a record is billed once.
CREATE TABLE IF NOT EXISTS {schema}.billed_usage (
    run_id        text          NOT NULL,
    invoice_id    text          NOT NULL,
    contract_id   text          NOT NULL,
    record_key    text          NOT NULL,
    rated_run_id  text          NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS billed_usage_record_key ON {schema}.billed_usage (record_key);
CREATE INDEX IF NOT EXISTS billed_usage_run_id ON {schema}.billed_usage (run_id);
