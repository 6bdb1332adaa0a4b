"""Rated usage, the per-record detail: what every rated record cost and why (docs/pricing.md).

At 10 M records the detail is the largest thing a run stores. DuckDB hands over only numbers
(sql/duck/out/rated_facts.sql: codes, quantities, amounts); the canonical record comes from the
batch by row position and every label (contract, article, zone, band, price row, …) from a small
lookup table indexed by its code, so no string is built per record in DuckDB.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import polars as pl

import sql
from schemas.outputs import RATED_USAGE


def rated_usage(con: duckdb.DuckDBPyConnection, usage: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """The rated records of table `pricing` in the stored shape (RATED_USAGE), by period, then in input order.

    Args:
        usage: the batch `pricing` was rated from; a record's rid is its row number in it.
    """
    facts = pl.from_arrow(con.sql(sql.load("duck/out/rated_facts")).to_arrow_table())
    con.register("rated_months", facts.select(pl.col("month_idx").unique()))
    frames = _label_frames(con)
    con.unregister("rated_months")
    # the gathers run one thread each (Polars releases the GIL): two at a time on two cores
    with ThreadPoolExecutor(2) as pool:
        record = pool.submit(usage.gather, facts.get_column("rid"))
        labels = list(pool.map(lambda frame: decoded(facts.get_column(frame.columns[0]), frame), frames))
        whole = pl.concat([record.result(), facts, *labels], how="horizontal")
    return whole.select(pl.lit(run_id).alias("run_id"), *[n for n in RATED_USAGE.names if n != "run_id"])


def decoded(codes: pl.Series, labels: pl.DataFrame) -> pl.DataFrame:
    """The label columns of `labels` (code first, then labels) for every code; null for unknown codes.

    A gather from a lookup table indexed by code: one array access per record, no hash join.
    """
    key = labels.get_column(labels.columns[0]).cast(pl.Int64)
    size = int(max(key.max() or 0, codes.max() or 0)) + 1
    positions = codes.cast(pl.Int64)
    columns = []
    for name in labels.columns[1:]:
        lookup = pl.Series(name, [None], dtype=labels.schema[name]).new_from_index(0, size).scatter(key, labels.get_column(name))
        columns.append(lookup.gather(positions))
    return pl.DataFrame(columns)


def _label_frames(con: duckdb.DuckDBPyConnection) -> list[pl.DataFrame]:
    return [con.sql(statement).pl() for statement in sql.statements("duck/out/rated_labels")]
