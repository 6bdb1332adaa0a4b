"""Price: assigned usage to priced usage, every amount explainable (docs/pricing.md)."""

from __future__ import annotations

import duckdb
import polars as pl

import sql
from pipeline.assign import build_segments, segment_lookup
from pipeline.assign.keys import phone_key, phone_prefix_hi
from pipeline.catalog import Catalog


def zone_dim(catalog: Catalog) -> pl.DataFrame:
    """Every zone a record can land in (prefix zones and catch-all zones), numbered from 1."""
    zones = pl.concat([catalog.zones.get_column("zone_id"), catalog.tariffs.get_column("catchall_zone").drop_nulls()])
    return pl.DataFrame({"zone_id": zones.unique().sort()}).with_row_index("zone_no", offset=1).with_columns(
        pl.col("zone_no").cast(pl.Int32)
    )


def key_dim(catalog: Catalog) -> pl.DataFrame:
    """Article keys of the catalog, numbered from 1 (usage with an unknown key gets 0)."""
    keys = catalog.article_keys.get_column("article_key").unique().sort()
    return pl.DataFrame({"article_key": keys}).with_row_index("key_no", offset=1).with_columns(pl.col("key_no").cast(pl.Int32))


def build_zone_index(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> int:
    """Create `zone_dim` and `zone_segments` (the longest destination prefix wins)."""
    zones = zone_dim(catalog)
    con.register("zone_dim", zones.to_arrow())
    prefixes = (
        catalog.zones.join(zones, on="zone_id")
        .select(
            pl.col("zone_no").cast(pl.Int64).alias("item"),
            phone_key(pl.col("prefix")).alias("lo"),
            phone_prefix_hi(pl.col("prefix")).alias("hi"),
        )
        .with_columns((pl.col("hi") - pl.col("lo")).alias("width"))
    )
    count = build_segments(con, "zone_items", prefixes)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE zone_segments AS "
        "SELECT seg_lo, seg_hi, CAST(item AS INTEGER) AS zone_no FROM zone_items WHERE rank = 1 ORDER BY seg_lo"
    )
    con.execute("CREATE OR REPLACE TEMP VIEW zone_segment_items AS SELECT seg_lo, seg_hi, zone_no AS item FROM zone_segments")
    return count


def zoned_usage(con: duckdb.DuckDBPyConnection, located: pl.DataFrame) -> pl.DataFrame:
    """`located` with `zone_hit`: the zone of the called number's longest prefix (null: none)."""
    zone = segment_lookup(con, located.get_column("cp_key"), "zone_segment_items")
    return located.with_columns(zone.cast(pl.Int32).alias("zone_hit"))


def build_rate_card(con: duckdb.DuckDBPyConnection) -> None:
    """Create the coded dimensions and `rate_card` from the registered catalog."""
    for statement in sql.statements("duck/dims"):
        con.execute(statement)
    con.execute(f"CREATE OR REPLACE TEMP TABLE rate_card AS {sql.load('duck/rate_card')}")


def priced_usage(con: duckdb.DuckDBPyConnection) -> None:
    """Create table `pricing` from `assignment`: each assigned record priced, or with a NULL amount."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE pricing AS {sql.load('duck/priced_usage')}")
