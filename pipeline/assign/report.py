"""The unassigned report: which identifiers matched no contract, how often, and how much usage they carry.

An operator reads it to add the missing device IDs (`rating import-ids`) or to find a
switch that writes numbers in an unexpected form.
"""

from __future__ import annotations

import polars as pl

#: How the report can be ordered.
ORDER_BY = {"records": "records", "volume": "volume_bytes", "duration": "duration_s"}


def top_unassigned(unassigned: pl.DataFrame | pl.LazyFrame, top: int = 20, by: str = "records") -> pl.DataFrame:
    """The `top` unassigned identifiers by record count, bytes or seconds, with the latest reason.

    Args:
        unassigned: rows shaped as schemas.outputs.UNASSIGNED (any number of runs).
        by: `records`, `volume` (bytes) or `duration` (seconds); ties go to the other measures.
    Returns:
        id_type, subscriber_id, records, duration_s, volume_bytes, first_seen, last_seen,
        runs (distinct run ids), reason (of the latest record).
    """
    if by not in ORDER_BY:
        raise ValueError(f"unknown order {by!r}: use one of {', '.join(ORDER_BY)}")
    others = [c for c in ORDER_BY.values() if c != ORDER_BY[by]]
    return (
        unassigned.lazy()
        .group_by("id_type", "subscriber_id")
        .agg(
            pl.len().cast(pl.Int64).alias("records"),
            pl.col("duration_s").sum().cast(pl.Int64).alias("duration_s"),
            pl.col("volume_bytes").sum().cast(pl.Int64).alias("volume_bytes"),
            pl.col("start_time").min().alias("first_seen"),
            pl.col("start_time").max().alias("last_seen"),
            pl.col("run_id").n_unique().cast(pl.Int64).alias("runs"),
            pl.col("reason").sort_by("start_time").last().alias("reason"),
        )
        .sort([ORDER_BY[by], *others, "subscriber_id"], descending=[True, True, True, False], nulls_last=True)
        .head(top)
        .collect()
    )
