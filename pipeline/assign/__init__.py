"""Assign: each usage record to the contract whose device ID matches it at its start time.

The catalog's device IDs become key intervals, flattened once into disjoint segments
(`device_segments`); records find theirs with one ASOF join (sql/duck/assigned_usage.sql).
Most specific wins: the longest prefix or the narrowest range.
"""

from __future__ import annotations

import duckdb

import sql
from pipeline import engine


def build_device_index(con: duckdb.DuckDBPyConnection) -> int:
    """Create table `device_segments` from the registered catalog; returns its row count."""
    return _segments(con, "device_segments", sql.load("duck/device_id_intervals"))


def build_segments(con: duckdb.DuckDBPyConnection, table: str, intervals_sql: str) -> int:
    """Flatten the intervals `intervals_sql` yields into the disjoint segment table `table`."""
    return _segments(con, table, intervals_sql)


def _segments(con: duckdb.DuckDBPyConnection, table: str, intervals_sql: str) -> int:
    con.execute(f"CREATE OR REPLACE TEMP VIEW intervals AS {intervals_sql}")  # noqa: S608 - SQL from sql/, fixed names
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql.load('duck/interval_segments')}")
    return engine.one_row(con, f"SELECT count(*) FROM {table}")[0]


def assigned_usage(con: duckdb.DuckDBPyConnection) -> None:
    """Create table `assignment`: every record of `usage_in` with its contract or an unassigned reason."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE assignment AS {sql.load('duck/assigned_usage')}")
