"""The warehouse side of billing: committed runs, the state they imply, staging and atomic commit.

Layout (docs/billing.md):
    <warehouse>/billing/runs/<run_id>/<table>.parquet        invoices, invoice_items, invoice_vat,
                                                             billing_history, billed_usage,
                                                             billing_problems, billing_runs
    <warehouse>/billing/runs/<run_id>/test/<table>.parquet   the same for test accounts
    <warehouse>/billing/.staging/<run_id>/                    a run being written
A run is written to its staging folder and committed by renaming that folder into runs/:
one atomic rename, so a run is either wholly visible or not at all, and a crash leaves only
a staging folder that the next attempt replaces. Committed runs are never rewritten.

Everything the next run needs (billed-until per position, last number per sequence, which
usage was billed) is derived from the committed runs' own tables, so there is no separate
state to drift from them. Beside them a run stores `settled_usage.parquet`: the rated_usage
files (path under rated_usage/, size, mtime_ns, inode) every record_key of which was billed once
it committed; later runs do not read them (register_state), since nothing in them can be billed
again. A file rewritten since (a rating run again, a re-rating) has another inode and mtime and
is read again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import sql
from pipeline import engine
from pipeline.catalog import Catalog
from pipeline.catalog.billing import BillingCatalog
from pipeline.io.locks import exclusive
from pipeline.io.warehouse import SCHEMA_DIR, parquet_view_sql, reads_warehouse, stored_paths
from schemas.billing import STORED, TEST_TABLES
from schemas.outputs import RATED_USAGE

BILLING = "billing"
RUNS = "runs"
STAGING = ".staging"
TEST = "test"
SETTLED = "settled_usage"
#: A rated_usage file every record of which was billed, as it was when its run committed.
SETTLED_USAGE = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("mtime_ns", pa.int64(), nullable=False),
        pa.field("inode", pa.int64(), nullable=False),
    ]
)


class BillingStoreError(RuntimeError):
    """The billing store is not as a run expects; the message says what to do."""


def run_dir(warehouse: Path, run_id: str) -> Path:
    return Path(warehouse) / BILLING / RUNS / run_id


def is_committed(warehouse: Path, run_id: str) -> bool:
    """Whether run `run_id` was committed (its folder was renamed into runs/)."""
    return run_dir(warehouse, run_id).is_dir()


@contextmanager
def locked(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's billing lock: one billing run at a time, so numbers never collide."""
    with exclusive(Path(warehouse) / BILLING / ".lock"):
        yield


def committed_files(warehouse: Path, table: str, test: bool = False) -> list[Path]:
    """The Parquet files of `table` in every committed run, ordered by run_id."""
    return stored_paths(Path(warehouse) / BILLING, _committed_pattern(table, test))


def billing_connection(catalog: Catalog, billing: BillingCatalog, warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A fresh connection holding what pipeline.bill.invoices.billed reads: the catalog with its
    pricing tables (a plain Catalog too: a run reads its VAT overrides, none), the billing
    catalog and the warehouse's state (register_state)."""
    from pipeline.price import pricing_of

    con = engine.connect()
    catalog.register(con)
    pricing_of(catalog).register(con)
    billing.register(con)
    register_state(con, warehouse)
    return con


@reads_warehouse
def register_state(con: duckdb.DuckDBPyConnection, warehouse: Path, prune: bool = True) -> None:
    """Register on `con` what pipeline.bill.invoices.billed reads from the warehouse.

    `rated_usage`: the rated usage records stored (schemas.outputs.RATED_USAGE) in every file not
    settled by a committed run (all files with `prune=False`): a settled file's record_keys are
    all in st_billed_usage, so usage_records.sql would take none of them, and of a key stored
    twice the copy it takes is never in a settled file; `rated_usage_files`: every file (path,
    period, size, mtime_ns, inode, settled), which newly_settled and the adjustments' look-up of
    earlier lines' tariffs read (pipeline.bill.invoices);
    `st_history`, `st_invoices`, `st_billed_usage`, `st_invoice_items`: the committed runs' tables,
    real and test (minimum revenue and cost cap settle against the lines already billed).
    """
    warehouse = Path(warehouse)
    files = _rated_files(con, warehouse, prune)
    unread = pc.invert(files.column("settled"))
    rated = files.filter(unread).column("file").to_pylist()
    if rated:
        stored = con.read_parquet(rated, hive_partitioning=True, union_by_name=True)
    else:
        stored = con.from_arrow(RATED_USAGE.empty_table())
    if "free_quantity" not in stored.columns:  # rated before free quantities were stored: none used
        stored = stored.select("*, CAST(0 AS BIGINT) AS free_quantity")
    else:  # such files read with newer ones: their records' free units are NULL (newer files never hold one)
        stored = stored.select("* REPLACE (coalesce(free_quantity, 0) AS free_quantity)")
    stored.create_view("rated_usage")
    for view, table in (
        ("st_history", "billing_history"), ("st_invoices", "invoices"), ("st_billed_usage", "billed_usage"), ("st_invoice_items", "invoice_items"),
    ):
        files = committed_files(warehouse, table) + committed_files(warehouse, table, test=True)
        if files:
            con.read_parquet([str(f) for f in files]).create_view(view)
        else:
            con.register(view, STORED[table].empty_table())


def _rated_files(con: duckdb.DuckDBPyConnection, warehouse: Path, prune: bool) -> pa.Table:
    """Register and return `rated_usage_files`: every rated_usage file (file, path under
    rated_usage/, period, size, mtime_ns, inode) and whether a committed run settled it as it is
    now (never with `prune=False`)."""
    root = warehouse / "rated_usage"
    found = stored_paths(root)
    stats = [f.stat() for f in found]
    con.register("bill_rated_found", pa.table({
        "file": pa.array([str(f) for f in found], pa.string()),
        "path": pa.array([f.relative_to(root).as_posix() for f in found], pa.string()),
        "period": pa.array([f.parent.name.removeprefix("period=") for f in found], pa.string()),
        "size": pa.array([s.st_size for s in stats], pa.int64()),
        "mtime_ns": pa.array([s.st_mtime_ns for s in stats], pa.int64()),
        "inode": pa.array([s.st_ino for s in stats], pa.int64()),
    }))
    marks = committed_files(warehouse, SETTLED) if prune else []
    con.register("bill_settled_marks", pa.concat_tables([pq.read_table(m, schema=SETTLED_USAGE) for m in marks]) if marks
                 else SETTLED_USAGE.empty_table())
    files = con.sql(
        "SELECT f.*, EXISTS (SELECT 1 FROM bill_settled_marks AS s WHERE s.path = f.path AND s.size = f.size "
        "AND s.mtime_ns = f.mtime_ns AND s.inode = f.inode) AS settled FROM bill_rated_found AS f ORDER BY f.path"
    ).to_arrow_table()
    con.register("rated_usage_files", files)
    return files


def newly_settled(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The rated_usage files (SETTLED_USAGE) not settled yet every record_key of which is billed
    once the run made on `con` commits (st_billed_usage and its bill_out_billed_usage, real and test)."""
    unread = con.sql("SELECT file FROM rated_usage_files WHERE NOT settled").fetchall()
    if not unread:
        return SETTLED_USAGE.empty_table()
    con.read_parquet([f for (f,) in unread], filename=True).select("filename, record_key").create_view("bill_unsettled_keys")
    return con.sql(sql.load("duck/bill/settled_files")).to_arrow_table().cast(SETTLED_USAGE)


def stage_run(
    warehouse: Path,
    run_id: str,
    tables: Mapping[str, pa.Table],
    test_tables: Mapping[str, pa.Table],
    settled: pa.Table | None = None,
) -> Path:
    """Write a run's tables to its staging folder (replacing any earlier attempt), and the
    rated_usage files it settles (newly_settled); nothing is visible yet."""
    if is_committed(warehouse, run_id):
        raise BillingStoreError(f"billing run {run_id!r} is already committed; committed runs are never rewritten")
    missing = sorted(set(STORED) - set(tables)) + [f"test/{t}" for t in sorted(set(TEST_TABLES) - set(test_tables))]
    if missing:
        raise BillingStoreError(f"billing run {run_id!r} lacks tables {missing}")
    staging = Path(warehouse) / BILLING / STAGING / run_id
    shutil.rmtree(staging, ignore_errors=True)
    (staging / TEST).mkdir(parents=True)
    for folder, given in ((staging, tables), (staging / TEST, test_tables)):
        for name, table in given.items():
            _write_durably(table.cast(STORED[name]), folder / f"{name}.parquet")
    if settled is not None:
        _write_durably(settled.cast(SETTLED_USAGE), staging / f"{SETTLED}.parquet")
    return staging


def commit_run(warehouse: Path, run_id: str) -> Path:
    """Make a staged run visible, all of its tables at once (one directory rename)."""
    staging = Path(warehouse) / BILLING / STAGING / run_id
    if not staging.is_dir():
        raise BillingStoreError(f"billing run {run_id!r} has nothing staged to commit")
    final = run_dir(warehouse, run_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging, final)
    _fsync_dir(final.parent)
    return final


@reads_warehouse
def read_committed(warehouse: Path, table: str, test: bool = False, run_id: str | None = None, filters=None) -> pa.Table:
    """A stored table over all committed runs (or one run), with its schemas.billing schema;
    `filters` (a pyarrow expression) keep only the rows they match, read without the others."""
    schema = STORED[table]
    files = committed_files(warehouse, table, test)
    if run_id is not None:
        files = [f for f in files if run_dir(warehouse, run_id) in f.parents]
    if not files:
        return schema.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=schema, filters=filters) for f in files])


@reads_warehouse
def billed_usage(warehouse: Path, rated_runs: list[str] | None = None) -> pa.Table:
    """Every usage record a committed run billed, for real and test accounts (BILLED_USAGE); only
    those the rating runs `rated_runs` stored, when given (the rest is never held in memory)."""
    filters = None if rated_runs is None else pc.field("rated_run_id").isin(pa.array(rated_runs, pa.string()))
    return pa.concat_tables([read_committed(warehouse, "billed_usage", test=test, filters=filters) for test in (False, True)])


def _views() -> list[tuple[str, str, bool]]:
    """(view, stored table, test accounts) of every view of add_billing_views over committed runs."""
    return [(name, name, False) for name in STORED] + [(f"test_{name}", name, True) for name in TEST_TABLES]


def views_with_files(warehouse: Path) -> dict[str, bool]:
    """Per view of add_billing_views, whether a committed run holds its table: without, it reads
    an empty schema file (pipeline.io.views.with_files)."""
    root = Path(warehouse).resolve() / BILLING
    return {view: bool(stored_paths(root, _committed_pattern(table, test))) for view, table, test in _views()}


def _committed_pattern(table: str, test: bool) -> str:
    """The files of `table` in every committed run, as a pattern below <warehouse>/billing."""
    return f"{RUNS}/*/{TEST}/{table}.parquet" if test else f"{RUNS}/*/{table}.parquet"


def add_billing_views(con: duckdb.DuckDBPyConnection, warehouse: Path) -> dict[str, bool]:
    """The billing views, on `con` (the analyst database pipeline.io.views.publish builds): one per
    stored table over all committed runs, `test_<table>` for test accounts, and the views of
    sql/views/billing.sql; returns per view over files whether it reads some (views_with_files)."""
    warehouse = Path(warehouse).resolve()
    schema_dir = warehouse / SCHEMA_DIR
    schema_dir.mkdir(parents=True, exist_ok=True)
    with_files = views_with_files(warehouse)
    for view, table, test in _views():
        empty = schema_dir / f"billing_{table}.parquet"
        pq.write_table(STORED[table].empty_table(), empty)
        pattern = warehouse / BILLING / _committed_pattern(table, test)
        con.execute(parquet_view_sql(view, str(pattern) if with_files[view] else str(empty), partitioned=False))
    for statement in sql.statements("views/billing"):
        con.execute(statement)
    return with_files


def _write_durably(table: pa.Table, path: Path) -> None:
    """Write a Parquet file and flush it to disk before the run can be committed."""
    with open(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
