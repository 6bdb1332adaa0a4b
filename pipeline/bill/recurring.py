"""Recurring, one-time and every-time fees: which are due, at which price, for how many days.

Works on a DuckDB connection on which the catalog (`cat_*`), the billing catalog (`bil_*`),
the contracts in scope (`bill_scope`) and what earlier runs billed (`st_position_billed`)
are registered. All contracts' due periods come out of one query (sql/duck/bill/
fee_requests.sql enumerates periods with a range per position), never a loop per contract.
The rules are in docs/billing.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb
import polars as pl

from pipeline import engine
from pipeline.bill.queries import create_table, load_macros


def fee_requests(con: duckdb.DuckDBPyConnection, until: date) -> duckdb.DuckDBPyRelation:
    """Table `bill_fee_requests`: every fee due by `until` and not billed yet, with its period, active days and first billed day (fee_from)."""
    return create_table(con, "bill_fee_requests", "duck/bill/fee_requests", until=until)


def fee_parts(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Table `bill_fee_parts`: each fee of `bill_fee_requests` cut on the days its price may change.

    A period that spans an override's end, an index date or a tariff change is billed at each
    part's own price, so the parts' first days are the days `position_prices` looks up.
    """
    return create_table(con, "bill_fee_parts", "duck/bill/fee_parts")


def position_prices(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Table `bill_prices`: the price of every (position_id, day) in `price_days`, and where it comes from.

    Order: override valid that day, else the position's latest price/index version, else the
    list price of the article in the tariff the position runs under that day.
    """
    return create_table(con, "bill_prices", "duck/bill/position_prices")


@contextmanager
def prices_on(catalog, billing, positions: pl.DataFrame, day: date) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh connection with both catalogs registered and `bill_prices` (position_prices) holding
    the price of every position of `positions` (its `position_id`) on `day`: what the lifecycle
    commands read prices from. Closed on leaving."""
    con = engine.connect(threads=1)
    try:
        load_macros(con)
        catalog.register(con)
        billing.register(con)
        con.register("price_days", positions.select("position_id", pl.lit(day).alias("day")).to_arrow())
        position_prices(con)
        yield con
    finally:
        con.close()


def charges(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Table `bill_charges`: the priced fees of `bill_fee_requests`, one row per price part
    (adjacent parts at the same price joined), amounts in cents, rounded once per part."""
    return create_table(con, "bill_charges", "duck/bill/charges")
