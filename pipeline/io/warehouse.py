"""The local warehouse: Parquet tables hive-partitioned by period, plus an analyst DuckDB file.

Layout (docs/warehouse.md):
    <warehouse>/<table>/period=YYYY-MM/run-<run_id>_<i>.parquet   invoice_lines, rated_usage
    <warehouse>/<table>/run-<run_id>.parquet                       rejects, unassigned, ledger, …
    <warehouse>/analytics.duckdb                                   views over all of the above
Every accepted usage record is stored once, whole, in exactly one of rated_usage,
unassigned, unrateable and non_billable; the analyst view `usage` is their union in the
canonical shape, and it is what later runs re-rate and check duplicates against.
A run's files are written to a staging folder first and then swapped in for that
run's earlier files, so re-running a run replaces its rows and never doubles them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import sql
from schemas.outputs import TABLES

#: Tables partitioned by billing period; the rest are one file per run.
PERIOD_TABLES = ("invoice_lines", "rated_usage")
#: Tables that hold accepted usage records, each whole and each record in one of them.
USAGE_TABLES = ("rated_usage", "unassigned", "unrateable", "non_billable")
#: Stored schemas, by table.
SCHEMAS: dict[str, pa.Schema] = dict(TABLES)
ANALYTICS_DB = "analytics.duckdb"


def write_run(tables: dict[str, duckdb.DuckDBPyRelation], warehouse: Path, run_id: str) -> dict[str, int]:
    """Store a run's tables, replacing whatever an earlier execution of the same run stored.

    Args:
        tables: relation per stored table name (schemas.outputs.TABLES or `usage`); period
            tables must have a `period` column.
    Returns: rows written per table.
    """
    warehouse = Path(warehouse)
    staging = warehouse / ".staging" / run_id
    shutil.rmtree(staging, ignore_errors=True)
    rows = {}
    for name, rel in tables.items():
        target = staging / name
        if name in PERIOD_TABLES:
            target.mkdir(parents=True, exist_ok=True)
            rel.write_parquet(str(target), partition_by=["period"], filename_pattern=f"run-{run_id}_{{i}}", compression="zstd")
        else:
            target.mkdir(parents=True, exist_ok=True)
            rel.write_parquet(str(target / f"run-{run_id}.parquet"), compression="zstd")
        rows[name] = _count_rows(target)
    for name in tables:
        _swap_in(staging / name, warehouse / name, run_id)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()  # only when no other run is staging
    except OSError:
        pass
    return rows


def _swap_in(staged: Path, final: Path, run_id: str) -> None:
    for old in final.rglob(f"run-{run_id}*.parquet"):
        old.unlink()
    for new in staged.rglob("*.parquet"):
        dest = final / new.relative_to(staged)
        dest.parent.mkdir(parents=True, exist_ok=True)
        new.replace(dest)


def _count_rows(folder: Path) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("*.parquet"))


def seen_record_keys(warehouse: Path, except_run: str) -> pl.DataFrame:
    """(record_key, run_id) of every usage record accepted by runs other than `except_run`."""
    files = [f for name in USAGE_TABLES for f in (Path(warehouse) / name).rglob("*.parquet")]
    if not files:
        return pl.DataFrame(schema={"record_key": pl.String, "run_id": pl.String})
    scans = [pl.scan_parquet(f, hive_partitioning=False).select("record_key", "run_id") for f in files]
    return pl.concat(scans).filter(pl.col("run_id") != except_run).collect()


def publish_views(warehouse: Path) -> Path:
    """(Re)create the analyst DuckDB file with one view per stored table, over all runs."""
    warehouse = Path(warehouse).resolve()
    schema_dir = warehouse / "_schema"
    schema_dir.mkdir(parents=True, exist_ok=True)
    db_path = warehouse / ANALYTICS_DB
    building = warehouse / f".{ANALYTICS_DB}.building"
    building.unlink(missing_ok=True)
    # readable by DuckDB 1.4+ clients too (e.g. the `duckdb` command of the duckdb-cli package)
    con = duckdb.connect(str(building), config={"storage_compatibility_version": "v1.4.0"})
    try:
        for name, schema in SCHEMAS.items():
            empty = schema_dir / f"{name}.parquet"
            pq.write_table(schema.empty_table(), empty)
            has_files = any((warehouse / name).rglob("*.parquet")) if (warehouse / name).exists() else False
            source = str(warehouse / name / "**" / "*.parquet") if has_files else str(empty)
            partitioned = has_files and name in PERIOD_TABLES
            con.execute(_view_sql(name, source, partitioned))
        for statement in sql.statements("views/analyst"):
            con.execute(statement)
    finally:
        con.close()
    building.replace(db_path)
    return db_path


def _view_sql(name: str, source: str, partitioned: bool) -> str:
    """DDL of one view. DuckDB cannot bind parameters in a view, so the path is quoted as a literal;
    view names are the fixed table names of schemas/outputs.py."""
    path = "'" + source.replace("'", "''") + "'"
    options = ", hive_partitioning = true, union_by_name = true" if partitioned else ""
    return f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet({path}{options})'
