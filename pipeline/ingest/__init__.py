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
    bad_rows = first.get_column("index")
    bad = usage.gather(bad_rows).with_columns(first.select("column", "failure_case", "check"))
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
    keep = ~pl.int_range(pl.len(), dtype=pl.Int64).is_in(bad_rows.implode())
    valid = usage.filter(keep)
    return valid, rejects.cast(REJECT_SCHEMA)


def deduplicated(usage: pl.DataFrame, seen: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split usage into first occurrences and duplicates of an earlier record key.

    A key counts as seen when it came earlier in this batch (file order, then line) or
    is in `seen` (record_key, run_id) from earlier runs. Duplicates carry
    `first_seen_run` (null when the first occurrence is in this batch).
    """
    first = _first_occurrences(usage.get_column("record_key"))
    unique = usage.filter(first)
    dupes = usage.filter(~first).with_columns(pl.lit(None, pl.String).alias("first_seen_run"))
    if seen is not None and seen.height:
        earlier = seen.select("record_key", pl.col("run_id").alias("first_seen_run")).unique("record_key", keep="first")
        again = unique.join(earlier, on="record_key", how="inner")
        unique = unique.join(earlier, on="record_key", how="anti")
        dupes = pl.concat([again, dupes])
    return unique, dupes


def _first_occurrences(keys: pl.Series) -> pl.Series:
    """True where a key occurs for the first time.

    Hashes first (a cheap unique count decides the common no-duplicate case), then
    compares the actual keys only among rows whose hashes collide, so the result is exact.
    """
    hashes = keys.hash()
    if hashes.n_unique() == keys.len():
        return pl.Series("first", [True], dtype=pl.Boolean).new_from_index(0, keys.len())
    frame = pl.DataFrame({"h": hashes, "key": keys}).with_row_index("i")
    repeated = frame.group_by("h").len().filter(pl.col("len") > 1).get_column("h")
    suspects = frame.filter(pl.col("h").is_in(repeated.implode()))
    later = suspects.filter(~pl.col("key").is_first_distinct()).get_column("i")
    return ~frame.get_column("i").is_in(later.implode()).rename("first")


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
