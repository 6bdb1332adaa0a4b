"""Bill: priced usage to invoice lines."""

from __future__ import annotations

import duckdb

import sql


def invoice_lines(con: duckdb.DuckDBPyConnection, run_id: str) -> duckdb.DuckDBPyRelation:
    """Table `invoice_lines` of `pricing`'s priced records: one per contract, period and article, rounded to cents once."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE invoice_lines AS {sql.load('duck/invoice_lines')}", {"run_id": run_id}
    )
    return con.table("invoice_lines")
