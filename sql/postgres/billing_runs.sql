-- The billing runs themselves and what kept fees off their invoices, in schema `billing` only
-- (test accounts' invoices go to `billing_test`, their runs are the same runs).
-- Applied by pipeline.io.postgres_billing.ensure_billing_schema after billing.sql; idempotent.

CREATE TABLE IF NOT EXISTS billing.billing_problems (
    run_id        text          NOT NULL,
    contract_id   text          NOT NULL,
    position_id   text,
    rule          text          NOT NULL,
    reason        text          NOT NULL
);
CREATE INDEX IF NOT EXISTS billing_problems_run_id ON billing.billing_problems (run_id);

CREATE TABLE IF NOT EXISTS billing.billing_runs (
    run_id        text          NOT NULL,
    kind          text          NOT NULL,
    period        text,
    contract_id   text,
    until         date          NOT NULL,
    invoice_date  date          NOT NULL,
    invoices      bigint        NOT NULL,
    test_invoices bigint        NOT NULL,
    net_total     numeric(18,2) NOT NULL,
    created_at    timestamptz   NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS billing_runs_run_id ON billing.billing_runs (run_id);
