"""Running the billing stage's SQL files on a connection, with only the parameters each uses."""

from __future__ import annotations

import re

import duckdb

import sql

_PARAM = re.compile(r"\$([a-z_]+)")


def load_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the billing macros (sql/duck/bill/macros.sql) on a connection from pipeline.engine.connect()."""
    for statement in sql.statements("duck/bill/macros"):
        con.execute(statement)


def create_table(con: duckdb.DuckDBPyConnection, table: str, name: str, **params: object) -> duckdb.DuckDBPyRelation:
    """TEMP table `table` from the query in sql/<name>.sql; `params` are bound by name ($until, …).

    `table` is always a fixed name chosen by this package, never user input.
    """
    query = sql.load(name)
    used = {p: params[p] for p in set(_PARAM.findall(query))}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {query}", used)
    return con.table(table)


def run_script(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Every statement of sql/<name>.sql, in order (no parameters)."""
    for statement in sql.statements(name):
        con.execute(statement)
