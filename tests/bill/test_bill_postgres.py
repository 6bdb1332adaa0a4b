"""Billing runs in a real PostgreSQL cluster: schemas as Arrow says, exact round trip, whole-run
replacement, test accounts apart, rollback."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

import billing_factory as f
from pipeline.io import billing_store
from pipeline.io.postgres import PostgresWriteError
from pipeline.io.postgres_billing import (
    ensure_billing_schema,
    read_billing_table,
    stored_billing_schemas,
    write_billing_run,
)
from schemas.billing import STORED, TEST_TABLES

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def url(postgres_url: str) -> str:
    ensure_billing_schema(postgres_url)
    ensure_billing_schema(postgres_url)  # idempotent
    return postgres_url


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two committed monthly runs with fees, usage, reverse charge and a test account."""
    warehouse = tmp_path_factory.mktemp("pg")
    cat, bil = f.catalogs(billing={"positions": f.positions([
        ("P1", "C1", "FEE", "recurring", "monthly", "2026-01-10", None),
        ("P2", "C2", "RENT", "recurring", "yearly", None, None),
        ("PT", "CT", "FEE", "recurring", "monthly", None, None),
    ])})
    f.store_rated(warehouse, f.rated([
        {"record_key": "r1", "contract_id": "C1", "start_time": datetime(2026, 1, 20, tzinfo=timezone.utc), "quantity": 61,
         "amount": Decimal("0.061000")},
    ]))
    for period in ("2026-01", "2026-02"):
        f.bill(warehouse, cat, bil, period=period)
    return warehouse


def committed(warehouse: Path, run_id: str) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    real = {n: billing_store.read_committed(warehouse, n, run_id=run_id) for n in STORED}
    test = {n: billing_store.read_committed(warehouse, n, test=True, run_id=run_id) for n in TEST_TABLES}
    return real, test


def rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=repr)


@pytest.mark.parametrize("test", [False, True], ids=["billing", "billing_test"])
def test_tables_match_the_arrow_schemas(url: str, test: bool) -> None:
    names = TEST_TABLES if test else tuple(STORED)
    assert stored_billing_schemas(url, test=test) == {n: STORED[n] for n in names}


def test_runs_round_trip_exactly_and_rewriting_replaces(url: str, runs: Path) -> None:
    for run_id in ("period-2026-01", "period-2026-02", "period-2026-01"):
        real, test = committed(runs, run_id)
        written = write_billing_run(url, run_id, real, test)
        assert written["billing.invoices"] == real["invoices"].num_rows
    for name in STORED:
        stored = read_billing_table(url, name)
        assert stored.schema.equals(STORED[name])
        expected = billing_store.read_committed(runs, name)
        if name == "billing_runs":
            assert rows(stored.drop_columns(["created_at"])) == rows(expected.drop_columns(["created_at"]))
        else:
            assert rows(stored) == rows(expected)
    assert [r["invoice_id"] for r in rows(read_billing_table(url, "invoices", test=True))] == ["TEST-000001", "TEST-000002"]


def test_money_and_dates_arrive_exactly(url: str, runs: Path) -> None:
    real, test = committed(runs, "period-2026-01")
    write_billing_run(url, "period-2026-01", real, test)  # its own write: under xdist no other test runs before it for sure
    items = pl.from_arrow(read_billing_table(url, "invoice_items", run_id="period-2026-01")).sort("invoice_id", "line_no")
    assert items.select("invoice_id", "line_kind", "service_from", "unit_price", "days_charged", "net_amount", "vat_rate").rows() == [
        ("INV-000001", "recurring", date(2026, 1, 10), Decimal("10.000000"), 22, Decimal("7.10"), Decimal("0.2000")),
        ("INV-000001", "usage", date(2026, 1, 20), None, None, Decimal("0.06"), Decimal("0.2000")),
        ("INV-000002", "recurring", date(2026, 1, 1), Decimal("120.000000"), 365, Decimal("120.00"), Decimal("0.0000")),
    ]


def test_a_failed_write_leaves_the_previous_state(url: str, runs: Path) -> None:
    real, test = committed(runs, "period-2026-02")
    write_billing_run(url, "period-2026-02", real, test)
    before = rows(read_billing_table(url, "invoices", run_id="period-2026-02"))
    duplicate = real["invoices"].slice(0, 1)
    broken = {**real, "invoices": pa.concat_tables([real["invoices"], duplicate])}  # the same invoice number twice
    with pytest.raises(PostgresWriteError, match=r"(?s)failed at table billing.invoices: .*duplicate key.*Rolled back"):
        write_billing_run(url, "period-2026-02", broken, test)
    assert rows(read_billing_table(url, "invoices", run_id="period-2026-02")) == before


def test_a_run_writes_only_its_own_rows(url: str, runs: Path) -> None:
    real, test = committed(runs, "period-2026-01")
    with pytest.raises(ValueError, match="run_id other than 'period-2026-02'"):
        write_billing_run(url, "period-2026-02", real, test)


def test_committed_runs_postgres_lacks_are_written_from_the_warehouse(postgres_url: str, runs: Path) -> None:
    """A run whose own write failed (the server was down) is written by the next run that reaches PostgreSQL."""
    from pipeline.io.postgres_billing import mirror_missing
    from tests.io.test_postgres import database

    url = database(postgres_url, "billing_catch_up")
    ensure_billing_schema(url)
    write_billing_run(url, "period-2026-02", *committed(runs, "period-2026-02"))  # January's write had failed
    assert mirror_missing(url, runs) == ["period-2026-01"]
    assert mirror_missing(url, runs) == []
    for name in STORED:
        expected = billing_store.read_committed(runs, name)
        assert rows(read_billing_table(url, name)) == rows(expected), name
    for name in TEST_TABLES:
        assert rows(read_billing_table(url, name, test=True)) == rows(billing_store.read_committed(runs, name, test=True)), name


@pytest.mark.parametrize(
    ("ddl", "problem"),
    [
        ("ALTER TABLE billing.invoices DROP COLUMN po_number", "billing.invoices.po_number is missing (declared string)"),
        # columns an index of billing.sql names: its CREATE INDEX failed first, with the driver's error
        ("ALTER TABLE billing.invoices DROP COLUMN sequence_no", "billing.invoices.sequence_no is missing (declared int64)"),
        ("ALTER TABLE billing.invoice_items DROP COLUMN line_no", "billing.invoice_items.line_no is missing (declared int64)"),
        ("ALTER TABLE billing_test.billed_usage DROP COLUMN record_key",
         "billing_test.billed_usage.record_key is missing (declared string)"),
        ("ALTER TABLE billing.billing_runs DROP COLUMN run_id", "billing.billing_runs.run_id is missing (declared string)"),
        ("ALTER TABLE billing.invoice_vat ALTER COLUMN vat_amount TYPE numeric(18,1)",
         "billing.invoice_vat.vat_amount is decimal128(18, 1), declared decimal128(18, 2)"),
        # would fail a later write only (a period paused throughout has no invoice; a column dropped since)
        ("ALTER TABLE billing.billing_history ALTER COLUMN invoice_id SET NOT NULL",
         "billing.billing_history.invoice_id is NOT NULL, declared nullable"),
        ("ALTER TABLE billing.invoices ADD COLUMN legacy_ref text NOT NULL",
         "billing.invoices.legacy_ref is NOT NULL and not declared"),
    ],
    ids=["plain-column", "indexed-column", "unique-key-column", "test-schema", "runs-table", "money-scale",
         "not-null", "undeclared-not-null"],
)
def test_billing_tables_of_an_older_release_are_refused_naming_each_column(postgres_url: str, ddl: str, problem: str) -> None:
    """docs/billing.md: tables of an older release are refused, naming each differing column (never a driver error)."""
    from tests.io.test_postgres import refusal_after

    refused = refusal_after(postgres_url, "billing_older_release", ensure_billing_schema, ddl)
    assert problem in refused and "migrate these columns (ALTER TABLE) or drop the tables" in refused
