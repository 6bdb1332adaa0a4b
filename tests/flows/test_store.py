"""The rating run's store step (flows.rate_usage.store): a run's tables written, and the analyst database
built anew only where its views would read the wrong files (pipeline.io.views.stale, docs/warehouse.md):
a view's first file or its last one gone, a missing database, a warehouse moved or copied, other view
definitions. A run into tables that have files leaves the database as it is: its views read the new files."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pytest

from flows import rate_usage
from pipeline.io import views, warehouse
from pipeline.job import rate
from pipeline.ledger import run_record
from tests.factory import at, catalog, usage

#: Two calls K-MIN and K-SEC rate, one no device ID matches.
CALLS = dict(subscriber_id=["4331681272420", "4930123450", "0000"], duration_s=[61, 30, 5])
#: The rows per run of the views the calls fill.
BY_RUN = "SELECT run_id, count(*) FROM {view} GROUP BY 1 ORDER BY 1"


@pytest.fixture(autouse=True)
def _logger(monkeypatch):
    monkeypatch.setattr(rate_usage, "get_run_logger", lambda: logging.getLogger("test"))


def stored(root: Path, run_id: str, **calls: list) -> None:
    """One run through the store step: rated with the test catalog, its tables written, the views refreshed."""
    result = rate(usage(**calls), catalog(), run_id, seen=warehouse.seen_record_keys(root, except_run=run_id))
    started = at("2026-11-01 00:00:00")
    rate_usage.store.fn(result, run_record(run_id, started, started, 1, result.input_records, result.net_amount), [], root)


def query(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / warehouse.ANALYTICS_DB), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def identity(root: Path) -> tuple[int, int]:
    """The analyst database file as built: a build makes a new file (built beside, renamed over)."""
    stat = (root / warehouse.ANALYTICS_DB).stat()
    return stat.st_ino, stat.st_mtime_ns


def test_a_tables_first_files_are_read_and_a_later_run_needs_no_rebuild(tmp_path):
    root = tmp_path / "warehouse"
    views.publish(root)  # every view reads its empty schema file
    empty = identity(root)
    stored(root, "run1", **CALLS)
    first = identity(root)
    assert first != empty
    assert [query(root, BY_RUN.format(view=v)) for v in ("rated_usage", "invoice_lines", "unassigned")] == [
        [("run1", 2)], [("run1", 2)], [("run1", 1)]
    ]
    stored(root, "run2", **CALLS, record_key=["n1", "n2", "n3"])
    assert identity(root) == first
    assert [query(root, BY_RUN.format(view=v)) for v in ("rated_usage", "invoice_lines", "unassigned", "runs")] == [
        [("run1", 2), ("run2", 2)], [("run1", 2), ("run2", 2)], [("run1", 1), ("run2", 1)], [("run1", 1), ("run2", 1)]
    ]


def test_a_table_whose_last_file_went_reads_as_empty(tmp_path):
    """run1 rated again with nothing rated (as `rating rerate` after its contract went): its rated_usage
    and invoice_lines files go, the only ones; a view over a glob without a match would fail."""
    root = tmp_path / "warehouse"
    stored(root, "run1", **CALLS)
    stored(root, "run1", subscriber_id=["0000"])
    assert not any((root / "rated_usage").rglob("*.parquet"))
    assert [query(root, f"SELECT count(*) FROM {v}") for v in ("rated_usage", "invoice_lines", "unassigned", "usage")] == [
        [(0,)], [(0,)], [(1,)], [(1,)]
    ]


def moved(root: Path, tmp_path: Path) -> Path:
    return Path(shutil.move(root, tmp_path / "moved"))


def copied(root: Path, tmp_path: Path) -> Path:
    copy = Path(shutil.copytree(root, tmp_path / "copy"))
    stored(root, "run3", **CALLS, record_key=["o1", "o2", "o3"])  # the original goes on: the copy must not read it
    return copy


def missing(root: Path, tmp_path: Path) -> Path:
    (root / warehouse.ANALYTICS_DB).unlink()
    return root


@pytest.mark.parametrize("change", [moved, copied, missing], ids=["moved", "copied", "analytics-db-missing"])
def test_the_views_read_the_warehouse_where_it_is_now(tmp_path, change):
    root = tmp_path / "warehouse"
    stored(root, "run1", **CALLS)
    root = change(root, tmp_path)
    stored(root, "run2", **CALLS, record_key=["n1", "n2", "n3"])
    assert query(root, BY_RUN.format(view="runs")) == [("run1", 1), ("run2", 1)]
    assert query(root, "SELECT DISTINCT warehouse FROM meta.built_with") == [(str(root.resolve()),)]


def test_other_view_definitions_build_the_database_anew_once(tmp_path, monkeypatch):
    """A release changing a view's SQL, a stored table's schema or the code that makes the views."""
    root = tmp_path / "warehouse"
    stored(root, "run1", **CALLS)
    before = identity(root)
    monkeypatch.setattr(views, "definitions", lambda: "a later release")
    stored(root, "run2", **CALLS, record_key=["n1", "n2", "n3"])
    rebuilt = identity(root)
    stored(root, "run3", **CALLS, record_key=["o1", "o2", "o3"])
    assert (rebuilt != before, identity(root) == rebuilt) == (True, True)
    assert query(root, "SELECT DISTINCT definitions FROM meta.built_with") == [("a later release",)]


@pytest.mark.parametrize("gone", ["_schema", "_schema/billing_invoices.parquet"], ids=["folder", "one-file"])
def test_an_empty_schema_file_removed_by_hand_is_made_again_by_the_next_run(tmp_path, gone):
    """A view of a table without files reads its empty schema file: one deleted by hand failed the
    view ("No files found") until `rating views`, because no view's files had come or gone."""
    root = tmp_path / "warehouse"
    stored(root, "run1", **CALLS)
    target = root / gone
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    stored(root, "run2", **CALLS, record_key=["n1", "n2", "n3"])
    assert query(root, "SELECT count(*) FROM invoices") == [(0,)]
    assert query(root, BY_RUN.format(view="runs")) == [("run1", 1), ("run2", 1)]
