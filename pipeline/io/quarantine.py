"""Quarantined files: usage files no reader could read at all, on record per run.

A file that cannot be read has no records, so the record ledger cannot show it; this
table is where an operator finds it (name, content hash, size, why) to fix and re-deliver
it. It is stored beside the run's other tables: `<warehouse>/quarantine/run-<run_id>.parquet`
(written by `warehouse.write_run` like them, so a re-run replaces it) and the `quarantine`
view of the analyst database.

Until QUARANTINE is an entry of schemas/outputs.py TABLES (and so of sql/postgres/schema.sql
and `warehouse.add_views`), its schema and view live here.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io import warehouse

TABLE = "quarantine"

#: One row per quarantined file of a run.
QUARANTINE = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


def quarantine_table(run_id: str, files: list[dict]) -> pa.Table:
    """The quarantine rows of a run; `files` holds one dict per file with the other QUARANTINE columns."""
    columns = {f.name: [run_id] * len(files) if f.name == "run_id" else [q[f.name] for q in files] for f in QUARANTINE}
    return pa.table(columns, schema=QUARANTINE)


def views_with_files(warehouse_dir: Path) -> dict[str, bool]:
    """Whether the `quarantine` view has files to read: without, it reads an empty schema file
    (pipeline.io.views.with_files)."""
    return {TABLE: bool(warehouse.stored_paths(Path(warehouse_dir).resolve() / TABLE, "*.parquet"))}


def add_view(con: duckdb.DuckDBPyConnection, warehouse_dir: Path) -> dict[str, bool]:
    """The `quarantine` view, on `con` (the analyst database pipeline.io.views.publish builds);
    returns whether it reads files (views_with_files)."""
    root = Path(warehouse_dir).resolve()
    with_files = views_with_files(root)
    if with_files[TABLE]:
        source = str(root / TABLE / "*.parquet")
    else:
        empty = root / warehouse.SCHEMA_DIR / f"{TABLE}.parquet"
        empty.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(QUARANTINE.empty_table(), empty)
        source = str(empty)
    con.execute(warehouse.parquet_view_sql(TABLE, source, partitioned=False))
    return with_files
