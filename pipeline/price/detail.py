"""Rated usage, the per-record detail: what every rated record cost and why (docs/pricing.md).

At 10 M records the detail is the largest thing a run stores. Its facts (codes, quantities,
amounts: rated_facts) come from the priced records as pricing made them (an Arrow table of
numbers, pipeline/price/records.py), the canonical record from the batch by row position and
every label (contract, article, zone, band, price row, …) from a small lookup table indexed by its
code, so no string is built per record, and no record goes through DuckDB.
"""

from __future__ import annotations

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


def rated_usage(con: duckdb.DuckDBPyConnection, usage: pl.DataFrame, run_id: str, priced: pa.Table) -> pl.DataFrame:
    """The rated records of `priced` in the stored shape (RATED_USAGE), by period, then in input order.

    Args:
        usage: the batch `priced` was rated from; a record's rid is its row number in it.
        priced: the priced records (pipeline.price.priced_usage, table `pricing` on `con`, whose
            dimensions label the codes).
    """
    facts = rated_facts(priced)
    con.register("rated_months", facts.select(pl.col("month_idx").unique()))
    frames = _label_frames(con)
    con.unregister("rated_months")
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
    period (month_idx), then rid. Put in that order only when they are not in it already (a run
    of one period, priced in input order, is)."""
    frame = pl.from_arrow(priced).filter(pl.col("amount_micro").is_not_null())
    facts = frame.select(
        *CODES,
        pl.col("quantity").cast(pl.Int64),
        pl.col("free_quantity").cast(pl.Int64),
        *AMOUNTS.values(),
        pl.col("tier_no").cast(pl.Int64).alias("tier"),
        pl.col("tier_before").cast(pl.Int64),
    )
    order = facts.select(pl.col("month_idx").cast(pl.Int64) * (1 << 40) + pl.col("rid")).to_series()  # rid < 2^40
    if not order.is_sorted():
        facts = facts.gather(_by_period(facts, order))
    return facts.with_columns(_amount(facts.get_column(micro)).alias(name) for name, micro in AMOUNTS.items()).drop(AMOUNTS.values())


def _by_period(facts: pl.DataFrame, order: pl.Series) -> np.ndarray | pl.Series:
    """The rows of `facts` by period, then rid (`order`: their month and rid as one key). Pricing
    keeps the input order, so the rows of each period are in rid order already and only the periods
    are put one after the other; else they are sorted by the key."""
    if not facts.get_column("rid").is_sorted():
        return order.arg_sort()
    month = facts.get_column("month_idx").to_numpy()
    return np.concatenate([np.flatnonzero(month == period) for period in np.unique(month)])  # the run's few periods


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
