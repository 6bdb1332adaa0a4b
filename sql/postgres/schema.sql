-- What the pipeline stores in PostgreSQL: one table per entry of schemas/outputs.py TABLES,
-- in schema `rating`. Applied by pipeline.io.postgres.ensure_schema; idempotent.
--
-- Column order, types and NOT NULL follow the Arrow schemas exactly (tests/io/test_postgres.py
-- compares them): decimal128(18,6) -> numeric(18,6), decimal128(18,2) -> numeric(18,2),
-- decimal128(6,4) -> numeric(6,4), timestamp[us, UTC] -> timestamptz, int64 -> bigint,
-- string -> text, bool -> boolean. Every table has run_id: a run's rows are replaced as a whole.

CREATE SCHEMA IF NOT EXISTS rating;

-- One usage invoice line per run, contract, billing period and article (VAT rate and code on each).
CREATE TABLE IF NOT EXISTS rating.invoice_lines (
    run_id        text          NOT NULL,
    period        text          NOT NULL,
    contract_id   text          NOT NULL,
    customer_id   text          NOT NULL,
    tariff_id     text          NOT NULL,
    article_id    text          NOT NULL,
    article_name  text          NOT NULL,
    unit          text          NOT NULL,
    records       bigint        NOT NULL,
    quantity      bigint        NOT NULL,
    free_quantity bigint        NOT NULL,
    net_amount    numeric(18,2) NOT NULL,
    vat_rate      numeric(6,4)  NOT NULL,
    vat_code      text          NOT NULL,
    currency      text          NOT NULL
);
CREATE INDEX IF NOT EXISTS invoice_lines_run_id ON rating.invoice_lines (run_id);
CREATE INDEX IF NOT EXISTS invoice_lines_period_contract ON rating.invoice_lines (period, contract_id);
CREATE INDEX IF NOT EXISTS invoice_lines_customer_period ON rating.invoice_lines (customer_id, period);

-- A priced usage record, with everything needed to explain its amount (docs/pricing.md).
CREATE TABLE IF NOT EXISTS rating.rated_usage (
    run_id        text          NOT NULL,
    period        text          NOT NULL,
    record_key    text          NOT NULL,
    source        text          NOT NULL,
    source_file   text          NOT NULL,
    source_line   bigint        NOT NULL,
    contract_id   text          NOT NULL,
    customer_id   text          NOT NULL,
    tariff_id     text          NOT NULL,
    id_type       text          NOT NULL,
    subscriber_id text          NOT NULL,
    matched_id    text          NOT NULL,
    match_kind    text          NOT NULL,
    counterparty  text,
    start_time    timestamptz   NOT NULL,
    duration_s    bigint,
    volume_bytes  bigint,
    article_key   text          NOT NULL,
    billable      boolean       NOT NULL,
    zone_id       text,
    band          text,
    article_id    text          NOT NULL,
    unit          text          NOT NULL,
    quantity      bigint        NOT NULL,
    free_quantity bigint        NOT NULL,
    price         numeric(18,6) NOT NULL,
    price_per     bigint        NOT NULL,
    price_source  text          NOT NULL,
    price_ref     text          NOT NULL,
    tier          bigint,
    tier_before   bigint,
    fee           numeric(18,6) NOT NULL,
    amount        numeric(18,6) NOT NULL
);
CREATE INDEX IF NOT EXISTS rated_usage_run_id ON rating.rated_usage (run_id);
CREATE INDEX IF NOT EXISTS rated_usage_period_contract ON rating.rated_usage (period, contract_id);

-- A bad input row: which file, which line, which column, what value, which rule.
CREATE TABLE IF NOT EXISTS rating.rejects (
    run_id        text          NOT NULL,
    source_file   text          NOT NULL,
    source_line   bigint        NOT NULL,
    "column"      text          NOT NULL,
    value         text,
    rule          text          NOT NULL,
    reason        text          NOT NULL,
    raw           text
);
CREATE INDEX IF NOT EXISTS rejects_run_id ON rating.rejects (run_id);
CREATE INDEX IF NOT EXISTS rejects_source_file ON rating.rejects (source_file, source_line);

-- A usage record that matched no contract: the canonical record plus why.
CREATE TABLE IF NOT EXISTS rating.unassigned (
    run_id        text          NOT NULL,
    record_key    text          NOT NULL,
    source        text          NOT NULL,
    source_file   text          NOT NULL,
    source_line   bigint        NOT NULL,
    id_type       text          NOT NULL,
    subscriber_id text          NOT NULL,
    counterparty  text,
    start_time    timestamptz   NOT NULL,
    duration_s    bigint,
    volume_bytes  bigint,
    article_key   text          NOT NULL,
    billable      boolean       NOT NULL,
    reason        text          NOT NULL
);
CREATE INDEX IF NOT EXISTS unassigned_run_id ON rating.unassigned (run_id);
CREATE INDEX IF NOT EXISTS unassigned_subscriber_id ON rating.unassigned (subscriber_id);

-- A usage record assigned to a contract but not priceable (no price, no article key, ...).
CREATE TABLE IF NOT EXISTS rating.unrateable (
    run_id        text          NOT NULL,
    record_key    text          NOT NULL,
    source        text          NOT NULL,
    source_file   text          NOT NULL,
    source_line   bigint        NOT NULL,
    id_type       text          NOT NULL,
    subscriber_id text          NOT NULL,
    counterparty  text,
    start_time    timestamptz   NOT NULL,
    duration_s    bigint,
    volume_bytes  bigint,
    article_key   text          NOT NULL,
    billable      boolean       NOT NULL,
    contract_id   text          NOT NULL,
    reason        text          NOT NULL
);
CREATE INDEX IF NOT EXISTS unrateable_run_id ON rating.unrateable (run_id);
CREATE INDEX IF NOT EXISTS unrateable_contract_id ON rating.unrateable (contract_id);

-- A usage record seen before (same record_key): kept, never billed twice.
CREATE TABLE IF NOT EXISTS rating.duplicates (
    run_id         text         NOT NULL,
    record_key     text         NOT NULL,
    source         text         NOT NULL,
    source_file    text         NOT NULL,
    source_line    bigint       NOT NULL,
    id_type        text         NOT NULL,
    subscriber_id  text         NOT NULL,
    counterparty   text,
    start_time     timestamptz  NOT NULL,
    duration_s     bigint,
    volume_bytes   bigint,
    article_key    text         NOT NULL,
    billable       boolean      NOT NULL,
    first_seen_run text
);
CREATE INDEX IF NOT EXISTS duplicates_run_id ON rating.duplicates (run_id);

-- A usage record flagged not billable: kept for the books, never priced.
CREATE TABLE IF NOT EXISTS rating.non_billable (
    run_id        text          NOT NULL,
    record_key    text          NOT NULL,
    source        text          NOT NULL,
    source_file   text          NOT NULL,
    source_line   bigint        NOT NULL,
    id_type       text          NOT NULL,
    subscriber_id text          NOT NULL,
    counterparty  text,
    start_time    timestamptz   NOT NULL,
    duration_s    bigint,
    volume_bytes  bigint,
    article_key   text          NOT NULL,
    billable      boolean       NOT NULL
);
CREATE INDEX IF NOT EXISTS non_billable_run_id ON rating.non_billable (run_id);

-- Where every input record of a run went: one row per outcome.
CREATE TABLE IF NOT EXISTS rating.ledger (
    run_id        text          NOT NULL,
    outcome       text          NOT NULL,
    records       bigint        NOT NULL,
    duration_s    bigint        NOT NULL,
    volume_bytes  bigint        NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_run_id_outcome ON rating.ledger (run_id, outcome);

-- One row per run: what went in and when.
CREATE TABLE IF NOT EXISTS rating.runs (
    run_id        text          NOT NULL,
    started_at    timestamptz   NOT NULL,
    finished_at   timestamptz   NOT NULL,
    input_files   bigint        NOT NULL,
    input_records bigint        NOT NULL,
    net_amount    numeric(18,2) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_run_id ON rating.runs (run_id);
CREATE INDEX IF NOT EXISTS runs_started_at ON rating.runs (started_at);
