"""The `rate_usage` flow end to end under Prefect's test harness: the shipped sample inbox (plus three files
no reader can read) rated into a scratch warehouse, then again, and into a real PostgreSQL.

Expected figures come from reading the sample files (docs/formats.md lists what each one holds):
100 canonical records + 2 rejected lines; 9 unbilled calls (no answer, busy, 0 s); 19 records that
match no device ID (the traffic of 167.112.17.41 and .46, just outside the DOMAIN range .42–.45 that
contract V-1001 holds, and 4331799999 twice and 4930123500 once); the remaining 72 rated, among them
the traffic of .42–.45 and of 2001:db8:17::42 (inside V-1003's 2001:db8:17::/48).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.prefect

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
RUN_ENV = ("RATING_CATALOG", "RATING_INBOX", "RATING_WAREHOUSE", "RATING_SOURCES", "RATING_PG_URL")

#: Added to the sample inbox: each is quarantined whole, with the reader's reason.
BROKEN = {
    "Master-pbx-graz-20261201.csv.gz": (b"not gzip at all\n", "named .gz but not gzip-compressed"),
    "freeswitch-berlin-20261102.csv": (b"", "empty file"),
    "notes.txt": (b"hello\n", "no source in {sources} has a pattern matching this file name"),
}

OUTCOMES = {"rated": 72, "non_billable": 9, "rejected": 2, "unassigned": 19, "unrateable": 0, "duplicate": 0}
FILES = {"input": 10, "read": 7, "quarantined": 3}
NET_AMOUNT = Decimal("58.50")

#: Rows per analyst view after one run (and after a re-run of it: replaced, not doubled).
VIEW_ROWS = {
    "invoice_lines": 19,
    "rated_usage": 72,
    "usage": 100,
    "rejects": 2,
    "unassigned": 19,
    "unrateable": 0,
    "duplicates": 0,
    "non_billable": 9,
    "ledger": 6,
    "runs": 1,
    "quarantine": 3,
}


def sample_inbox(root: Path) -> tuple[Path, Path]:
    """A copy of the sample catalog and inbox under `root`, with the BROKEN files added to the inbox."""
    catalog = shutil.copytree(SAMPLE / "catalog", root / "catalog")
    inbox = shutil.copytree(SAMPLE / "inbox", root / "inbox")
    for name, (content, _) in BROKEN.items():
        (inbox / name).write_bytes(content)
    return catalog, inbox


def run_flow(catalog: Path, inbox: Path, warehouse: Path, pg_url: str | None = None) -> dict:
    """One run of the flow with nothing taken from the caller's RATING_* environment."""
    from flows.rate_usage import rate_usage

    with pytest.MonkeyPatch.context() as env:
        for name in RUN_ENV:
            env.delenv(name, raising=False)
        return rate_usage(catalog=str(catalog), inbox_dir=str(inbox), warehouse_dir=str(warehouse), pg_url=pg_url)


def view_rows(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    try:
        return {name: con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] for name in VIEW_ROWS}
    finally:
        con.close()


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory) -> Iterator[tuple[Path, dict, dict, dict]]:
    """(warehouse, first summary, view rows after the first run, second summary) of two runs of one inbox."""
    root = tmp_path_factory.mktemp("flow")
    catalog, inbox = sample_inbox(root)
    warehouse = root / "warehouse"
    first = run_flow(catalog, inbox, warehouse)
    rows_after_first = view_rows(warehouse)
    second = run_flow(catalog, inbox, warehouse)
    yield warehouse, first, rows_after_first, second


def test_outcome_counts(runs):
    _, first, _, _ = runs
    assert first["outcomes"] == OUTCOMES
    assert first["input_records"] == sum(OUTCOMES.values()) == 102


def test_quarantined_files_are_counted_and_stored(runs):
    warehouse, first, _, _ = runs
    assert first["files"] == FILES
    sources = Path(first["quarantined"][0][0]).parent / "sources.toml"
    expected = {name: reason.format(sources=sources) for name, (_, reason) in BROKEN.items()}
    assert {Path(path).name: reason for path, reason in first["quarantined"]} == expected
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    stored = con.sql("SELECT run_id, source_file, size_bytes, reason FROM quarantine ORDER BY source_file").fetchall()
    con.close()
    assert stored == [
        (first["run_id"], name, len(content), expected[name]) for name, (content, _) in sorted(BROKEN.items())
    ]


def test_ledger_adds_up_to_the_stored_input(runs):
    """The ledger's records, seconds and bytes add up to what came in: the stored usage plus the rejected lines."""
    warehouse, first, _, _ = runs
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    ledger = dict(con.sql("SELECT outcome, records FROM ledger").fetchall())
    totals = con.sql("SELECT sum(records), sum(duration_s), sum(volume_bytes) FROM ledger").fetchall()[0]
    stored = con.sql(
        "SELECT count(*) + (SELECT count(DISTINCT (source_file, source_line)) FROM rejects), "
        "sum(duration_s), sum(volume_bytes) FROM usage"
    ).fetchall()[0]
    con.close()
    assert ledger == OUTCOMES
    assert totals == stored == (102, 14125, 8211449156)


def test_invoice_lines_are_parquet_partitioned_by_period(runs):
    warehouse, first, _, _ = runs
    files = sorted(p.relative_to(warehouse).as_posix() for p in (warehouse / "invoice_lines").rglob("*.parquet"))
    assert files == [f"invoice_lines/period=2026-10/run-{first['run_id']}_0.parquet"]
    assert pq.read_table(warehouse / files[0]).num_rows == first["invoice_lines"] == VIEW_ROWS["invoice_lines"]


def test_analyst_views_answer_sql(runs):
    warehouse, first, rows_after_first, _ = runs
    assert rows_after_first == VIEW_ROWS
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    total = con.sql("SELECT sum(net_amount) FROM invoice_lines").fetchall()[0][0]
    run = con.sql("SELECT run_id, input_files, input_records, net_amount FROM runs").fetchall()
    sample = con.sql("SELECT * FROM invoice_lines LIMIT 5").fetchall()
    con.close()
    assert total == first["net_amount"] == NET_AMOUNT
    assert run == [(first["run_id"], FILES["input"], 102, NET_AMOUNT)]
    assert len(sample) == 5


def test_rerun_of_the_same_inbox_replaces_its_rows(runs):
    warehouse, first, _, second = runs
    assert second["run_id"] == first["run_id"]
    assert second["outcomes"] == OUTCOMES  # its own earlier records are not duplicates of themselves
    assert view_rows(warehouse) == VIEW_ROWS
    assert not (warehouse / ".staging").exists()


@pytest.mark.postgres
def test_postgres_gets_the_invoice_lines_and_a_rerun_replaces_them(prefect_harness, postgres_url, tmp_path):
    from pipeline.io.postgres import read_table

    catalog, inbox = sample_inbox(tmp_path)
    stored = []
    for _ in range(2):
        summary = run_flow(catalog, inbox, tmp_path / "warehouse", pg_url=postgres_url)
        lines = read_table(postgres_url, "invoice_lines", summary["run_id"])
        everything = read_table(postgres_url, "invoice_lines")
        ledger = read_table(postgres_url, "ledger", summary["run_id"])
        stored.append(
            (
                summary["postgres"]["invoice_lines"],
                lines.num_rows,
                sum(lines["net_amount"].to_pylist()),
                everything["run_id"].to_pylist().count(summary["run_id"]),
                dict(zip(ledger["outcome"].to_pylist(), ledger["records"].to_pylist())),
            )
        )
    assert stored == [(19, 19, NET_AMOUNT, 19, OUTCOMES)] * 2
