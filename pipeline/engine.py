"""The in-memory DuckDB engine every stage computes in.

One connection per run: catalog and usage tables are registered on it, stages run
SQL from `sql/duck/` against it and hand back DuckDB relations or Arrow tables.
"""

from __future__ import annotations

import os
import threading
from functools import cache

import duckdb
import polars as pl
import pyarrow as pa

import sql


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection with the project's macros loaded.

    Its session time zone is UTC, the zone of every time in the catalog and the usage: DuckDB
    would otherwise take the host's, and a TIMESTAMPTZ cast to a date or formatted as text
    (a reason, a period) would depend on the machine the run happens on.
    """
    config = {"threads": threads or os.cpu_count() or 1, "preserve_insertion_order": False}
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")  # after connecting: the setting needs the icu extension loaded
    for statement in sql.statements("duck/macros"):
        con.execute(statement)
    return con


@cache
def _shared() -> duckdb.DuckDBPyConnection:
    return connect(threads=1)


_cursor_lock = threading.Lock()


def cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own (temporary tables, registered frames) to one in-memory database
    kept for the process, with the macros loaded and UTC as session zone: for small lookups made
    per file (the time-zone offsets of a reader's times), where a fresh `connect` costs ~25 ms (ICU,
    macros) and a run may read thousands of small files. Close it after use."""
    with _cursor_lock:  # one cursor made at a time: readers run in threads
        con = _shared().cursor()
    con.execute("SET TimeZone = 'UTC'")
    return con


def arrow(frame: pl.DataFrame) -> pa.Table:
    """A Polars frame as the Arrow table DuckDB scans, its strings as views of Polars' own memory.
    Registering the frame itself converts them to large strings, a copy: 0.04-0.05 s for the
    bench's 1.5 M invoice lines, against nothing so."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def one_row(con: duckdb.DuckDBPyConnection, query: str, params=None) -> tuple:
    """The single row a query returns (DuckDB 2 streams `execute` results; a relation does not hold the connection)."""
    rows = con.sql(query, params=params).fetchall()
    if len(rows) != 1:
        raise ValueError(f"expected one row, got {len(rows)}")
    return rows[0]
