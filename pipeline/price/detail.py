"""Rated usage, the per-record detail: what every rated record cost and why (docs/pricing.md).

At 10 M records the detail is the largest thing a run stores. Its facts (codes, quantities,
amounts: rated_facts) come from the priced records as pricing made them (an Arrow table of
numbers, pipeline/price/records.py), the canonical record from the batch by row position and
every label (contract, article, zone, band, price row, …) from a small lookup table indexed by its
code, so no string is built per record, and no record goes through DuckDB. A run stores it in
parts (rated_usage_parts), each built when the one before is written: the detail of 10 M records
is 2.5 GB, which took a run's memory from 5.5 to 9 GB when it was built whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

import sql
from schemas.outputs import AMOUNT, RATED_USAGE

#: The codes a rated record's facts carry as pricing made them (PRICING_COLUMNS).
CODES = ("rid", "month_idx", "dev_no", "contract_no", "ta_no", "zone_no", "band_no", "ref_no", "src")
#: Amount columns of the facts and the micro-unit columns of the priced records they come from.
AMOUNTS = {"price": "price_micro", "fee": "fee_micro", "amount": "amount_micro"}
#: Most records of one part of the detail a run stores (rated_usage_parts).
PART_ROWS = 2_000_000


def rated_usage(con: duckdb.DuckDBPyConnection, usage: pl.DataFrame, run_id: str, priced: pa.Table) -> pl.DataFrame:
    """The rated records of `priced` in the stored shape (RATED_USAGE), by period, then in input order.

    Args:
        usage: the batch `priced` was rated from; a record's rid is its row number in it.
        priced: the priced records (pipeline.price.priced_usage, table `pricing` on `con`, whose
            dimensions label the codes).
    """
    return next(rated_usage_parts(con, usage, run_id, priced, rows=None))


def rated_usage_parts(
    con: duckdb.DuckDBPyConnection, usage: pl.DataFrame, run_id: str, priced: pa.Table, rows: int | None = PART_ROWS
) -> Iterator[pl.DataFrame]:
    """rated_usage in parts, in its order, each made when the one before has been taken: the
    records of one period, at most `rows` of them (None: all the rated records in one part). At
    least one part: an empty one when no record was rated. Only the part's facts are gathered."""
    frame = _priced_facts(priced)
    at = _rated_rows(frame)
    con.register("rated_months", frame.select(pl.col("month_idx").unique()))
    frames = _label_frames(con)
    con.unregister("rated_months")
    for start, length in _spans(frame.get_column("month_idx").gather(at), rows):
        yield _detail(usage, run_id, _facts(frame.gather(at[start : start + length])), frames)


def _spans(month: pl.Series, rows: int | None) -> list[tuple[int, int]]:
    """(offset, length) of the parts of records grouped by period (`month`): each within a
    period, at most `rows` long; (0, all) when `rows` is None."""
    if rows is None or not month.len():
        return [(0, month.len())]
    spans, start = [], 0
    for length in month.rle().struct.field("len").to_list():  # the run's few periods
        spans += [(at, min(rows, start + length - at)) for at in range(start, start + length, rows)]
        start += length
    return spans


def _detail(usage: pl.DataFrame, run_id: str, facts: pl.DataFrame, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The stored detail (RATED_USAGE) of `facts`: the canonical record by rid, the facts, the labels of `frames` by code."""
    # the gathers run one thread each (Polars releases the GIL): two at a time on two cores
    with ThreadPoolExecutor(2) as pool:
        record = pool.submit(usage.gather, facts.get_column("rid"))
        labels = list(pool.map(lambda frame: decoded(facts.get_column(frame.columns[0]), frame), frames))
        whole = pl.concat([record.result(), facts, *labels], how="horizontal")
    return whole.select(pl.lit(run_id).alias("run_id"), *[n for n in RATED_USAGE.names if n != "run_id"])


def rated_facts(priced: pa.Table) -> pl.DataFrame:
    """The facts of the rated records of `priced` (those with an amount): CODES, quantity,
    free_quantity, price, tier, tier_before, fee and amount, the amounts as DECIMAL(18,6) (the
    micro-units are the decimal's unscaled integer: exact, as the SQL macro micro_to_amount); by
    period (month_idx), then rid."""
    frame = _priced_facts(priced)
    return _facts(frame.gather(_rated_rows(frame)))


def _priced_facts(priced: pa.Table) -> pl.DataFrame:
    """The columns of the priced records the facts are made of (a view: no copy)."""
    return pl.from_arrow(priced.select([*CODES, "quantity", "free_quantity", *AMOUNTS.values(), "tier_no", "tier_before"]))


def _facts(rated: pl.DataFrame) -> pl.DataFrame:
    """rated_facts of priced records that all have an amount, in their order."""
    facts = rated.select(
        *CODES,
        pl.col("quantity").cast(pl.Int64),
        pl.col("free_quantity").cast(pl.Int64),
        *AMOUNTS.values(),
        pl.col("tier_no").cast(pl.Int64).alias("tier"),
        pl.col("tier_before").cast(pl.Int64),
    )
    return facts.with_columns(_amount(facts.get_column(micro)).alias(name) for name, micro in AMOUNTS.items()).drop(AMOUNTS.values())


def _rated_rows(priced: pl.DataFrame) -> pl.Series:
    """The rows of the priced records that have an amount, by period (month_idx), then rid.
    Pricing keeps the input order, so the rows of each period are in rid order already and only
    the periods are put one after the other; else they are sorted by (period, rid)."""
    rated = priced.get_column("amount_micro").is_not_null()
    if priced.get_column("rid").is_sorted():
        month, keep = priced.get_column("month_idx").to_numpy(), rated.to_numpy()
        rows = [np.flatnonzero(keep & (month == period)) for period in np.unique(month[keep])]  # the run's few periods
        return pl.Series(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64), dtype=pl.Int64)
    at = rated.arg_true()
    order = priced.select(pl.col("month_idx").cast(pl.Int64) * (1 << 40) + pl.col("rid")).to_series().gather(at)  # rid < 2^40
    return at.gather(order.arg_sort()).cast(pl.Int64)


def _amount(micro: pl.Series) -> pl.Series:
    """Micro-units as DECIMAL(18,6) amounts: the same integers, read with six decimals (a view, no arithmetic)."""
    whole = pc.cast(micro.cast(pl.Int64).rechunk().to_arrow(), pa.decimal128(19, 0))  # 19 digits hold any int64
    return pl.from_arrow(whole.view(AMOUNT))


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
