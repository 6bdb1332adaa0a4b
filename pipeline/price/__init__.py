"""Price: assigned usage to priced usage, every amount explainable (docs/pricing.md)."""

from __future__ import annotations

import duckdb

import sql
from pipeline.assign import build_segments


def build_zone_index(con: duckdb.DuckDBPyConnection) -> int:
    """Create table `zone_segments` (longest destination prefix wins) from the catalog's zones."""
    return build_segments(con, "zone_segments", sql.load("duck/zone_intervals"))


def priced_usage(con: duckdb.DuckDBPyConnection) -> None:
    """Create table `pricing` from view `assigned`: each record priced or with an unrateable reason."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE pricing AS {sql.load('duck/priced_usage')}")
