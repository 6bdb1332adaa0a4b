"""Ingest: canonical usage in, valid and unique usage out; bad rows become rejects with a reason."""

from __future__ import annotations

import polars as pl
from pandera.errors import SchemaErrors

from schemas.usage import UsageRecord



def validated_usage(usage: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split canonical usage into rows that pass `UsageRecord` and rejects (one per bad row).

    A row that breaks several rules is rejected once, for the first rule in column order.
    """
    try:
        UsageRecord.validate(usage, lazy=True)
        return usage, pl.DataFrame(schema=REJECT_SCHEMA)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    if cases.filter(pl.col("index").is_null()).height:
        # schema-level failure (wrong column or dtype): the reader broke its contract
        raise TypeError(f"usage frame does not have the canonical schema:\n{cases}")
    order = {c: i for i, c in enumerate(usage.columns)}
    first = (
        cases.with_columns(
            pl.col("index").cast(pl.Int64),
            pl.col("column").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_pos"),
        )
        .sort("index", "_pos")
        .unique("index", keep="first", maintain_order=True)
    )
    indexed = usage.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    bad = indexed.join(first, on="index", how="inner")
    rejects = bad.select(
        "source_file",
        "source_line",
        pl.col("column"),
        pl.col("failure_case").alias("value"),
        pl.col("check").alias("rule"),
        pl.format(
            "{} line {}: column {} value '{}' breaks rule {}",
            "source_file",
            "source_line",
            pl.col("column"),
            pl.col("failure_case").fill_null("null"),
            pl.col("check"),
        ).alias("reason"),
        pl.lit(None, pl.String).alias("raw"),
    )
    valid = indexed.join(first.select("index"), on="index", how="anti").drop("index")
    return valid, rejects.cast(REJECT_SCHEMA)


def deduplicated(usage: pl.DataFrame, seen: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split usage into first occurrences and duplicates of an earlier record key.

    A key counts as seen when it came earlier in this batch (file order, then line) or
    is in `seen` (record_key, run_id) from earlier runs. Duplicates carry
    `first_seen_run` (null when the first occurrence is in this batch).
    """
    first = usage.select(pl.col("record_key").is_first_distinct()).to_series()
    unique, dupes = usage.filter(first), usage.filter(~first).with_columns(pl.lit(None, pl.String).alias("first_seen_run"))
    if seen is not None and seen.height:
        earlier = seen.select("record_key", pl.col("run_id").alias("first_seen_run")).unique("record_key", keep="first")
        again = unique.join(earlier, on="record_key", how="inner")
        unique = unique.join(earlier, on="record_key", how="anti")
        dupes = pl.concat([again, dupes])
    return unique, dupes


#: Rejects as produced by readers and validation (the job adds the run id).
REJECT_SCHEMA = {
    "source_file": pl.String,
    "source_line": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "rule": pl.String,
    "reason": pl.String,
    "raw": pl.String,
}
