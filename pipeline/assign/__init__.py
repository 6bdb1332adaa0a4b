"""Assign: each usage record to the contract whose device ID matches it at its start time.

The catalog's device IDs become integer key intervals (pipeline/assign/keys.py),
flattened once into disjoint segments; records find theirs with one ASOF join in
DuckDB (sql/duck/assigned_usage.sql). Most specific wins: the longest prefix or the
narrowest range; among IDs of equal width, the validity at the record's start decides.
"""

from __future__ import annotations

import duckdb
import polars as pl

import sql
from pipeline import engine
from pipeline.assign.keys import phone_key, phone_prefix_hi


def device_intervals(device_ids: pl.DataFrame) -> pl.DataFrame:
    """One key interval per catalog device ID row, numbered `dev_no` in catalog order."""
    upper = pl.coalesce("id_to", "id_value")
    return device_ids.with_row_index("dev_no").select(
        pl.col("dev_no").cast(pl.Int64),
        "contract_id",
        pl.when(pl.col("id_to").is_null()).then(pl.col("id_value")).otherwise(pl.format("{}-{}", "id_value", "id_to")).alias("matched_id"),
        pl.when(pl.col("id_to").is_null()).then(pl.lit("prefix")).otherwise(pl.lit("range")).alias("match_kind"),
        "valid_from",
        "valid_until",
        phone_key(pl.col("id_value")).alias("lo"),
        phone_prefix_hi(upper).alias("hi"),
    ).with_columns((pl.col("hi") - pl.col("lo")).alias("width")).filter(pl.col("lo").is_not_null())


def build_segments(con: duckdb.DuckDBPyConnection, items_table: str, intervals: pl.DataFrame) -> int:
    """Flatten `intervals` (lo, hi, width, item) into `items_table` (seg_no, seg_lo, seg_hi, item, rank)."""
    con.register("intervals", intervals.select("lo", "hi", "width", "item").to_arrow())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {items_table} AS {sql.load('duck/interval_segments')}")
    con.unregister("intervals")
    return engine.one_row(con, f"SELECT count(DISTINCT seg_no) FROM {items_table}")[0]


def build_device_index(con: duckdb.DuckDBPyConnection, device_ids: pl.DataFrame) -> int:
    """Create `device_intervals`, `device_items` and `device_segments`; returns the segment count."""
    intervals = device_intervals(device_ids)
    con.register("device_intervals", intervals.to_arrow())
    segments = build_segments(con, "device_items", intervals.rename({"dev_no": "item"}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE device_segments AS {sql.load('duck/device_segments')}")
    con.execute("CREATE OR REPLACE TEMP VIEW device_segment_items AS SELECT seg_lo, seg_hi, seg_no AS item FROM device_segments")
    return segments


def keyed_usage(usage: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """The narrow columns assignment and pricing need, row-aligned with `usage` (`rid` = row number).

    Args:
        keys: (article_key, key_no) codes; a key the catalog does not know gets 0.
    """
    codes = dict(zip(keys.get_column("article_key"), keys.get_column("key_no")))
    return usage.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rid"),
        pl.when(pl.col("id_type") == "phone").then(phone_key(pl.col("subscriber_id"))).alias("id_key"),
        phone_key(pl.col("counterparty")).alias("cp_key"),
        "start_time",
        "duration_s",
        "volume_bytes",
        pl.col("article_key").replace_strict(codes, default=0, return_dtype=pl.Int32).alias("key_no"),
    )


def segment_lookup(con: duckdb.DuckDBPyConnection, keys: pl.Series, segments: str) -> pl.Series:
    """The interval join: for each key, the `item` of the segment of `segments` holding it, row-aligned.

    DuckDB's ASOF join finds the segments; its output order is arbitrary, so the
    items are scattered back to their rows by `rid` (no second join on 10 M rows).
    """
    con.register("probe", pl.DataFrame({"rid": pl.int_range(keys.len(), dtype=pl.Int64, eager=True), "key": keys}))
    con.execute(f"CREATE OR REPLACE TEMP VIEW lookup_segments AS SELECT seg_lo, seg_hi, item FROM {segments}")
    found = con.sql(sql.load("duck/segment_lookup")).pl()
    con.unregister("probe")
    aligned = pl.repeat(None, keys.len(), dtype=pl.Int64, eager=True)
    return aligned.scatter(found.get_column("rid"), found.get_column("item").cast(pl.Int64))


def located_usage(con: duckdb.DuckDBPyConnection, keyed: pl.DataFrame) -> pl.DataFrame:
    """`keyed` with `seg_no`: the device-ID segment each record's key falls into (null: none)."""
    return keyed.with_columns(segment_lookup(con, keyed.get_column("id_key"), "device_segment_items").alias("seg_no"))


def assigned_usage(con: duckdb.DuckDBPyConnection, located: pl.DataFrame) -> None:
    """Create table `assignment`: every located record with its `dev_no`, or NULL when unassigned."""
    con.register("located", located)
    con.execute(f"CREATE OR REPLACE TEMP TABLE assignment AS {sql.load('duck/assigned_usage')}")
