"""Ingest: which canonical usage rows are valid, and which repeat an earlier record.

Both answers are row masks over the batch, so a 10 M-row batch is copied once, when
the stages after it take the rows they need. Bad rows become rejects with a reason;
duplicates keep the run that saw their key first.
"""

from __future__ import annotations

import polars as pl
from pandera.errors import SchemaErrors

from schemas.usage import UsageRecord

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


def validation_rejects(usage: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Check every row against `UsageRecord`: a mask of valid rows, and one reject per bad row.

    A row that breaks several rules is rejected once, for the first rule in column order.
    """
    try:
        UsageRecord.validate(usage, lazy=True)
        return pl.Series("valid", [True], dtype=pl.Boolean).new_from_index(0, usage.height), pl.DataFrame(schema=REJECT_SCHEMA)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    if cases.filter(pl.col("index").is_null()).height:
        # a schema-level failure (a wrong column or dtype) means the reader broke its contract
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
    rejects = usage.gather(bad_rows).with_columns(first.select("column", "failure_case", "check")).select(
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
    valid = pl.Series("valid", [True], dtype=pl.Boolean).new_from_index(0, usage.height).scatter(bad_rows, False)
    return valid, rejects.cast(REJECT_SCHEMA)


def duplicate_rows(keys: pl.Series, candidates: pl.Series, seen: pl.DataFrame | None = None) -> tuple[pl.Series, pl.Series]:
    """Which candidate rows repeat a record key, and the run that saw the key first.

    A key is repeated when an earlier candidate row of this batch (file order, then line)
    has it, or when `seen` (record_key, run_id) from earlier runs has it; then
    `first_seen_run` is that run (null when the first occurrence is in this batch).
    Hashes decide the common no-duplicate case cheaply; rows whose hashes collide are
    compared by their actual keys, so the result is exact.
    """
    n = keys.len()
    hashes = pl.select(pl.when(candidates).then(keys.hash())).to_series()
    repeated_here = pl.Series("dup", [False], dtype=pl.Boolean).new_from_index(0, n)
    ordered = hashes.drop_nulls().sort()  # a sort finds equal hashes faster than a hash table of 10 M
    collided = ordered.filter(ordered == ordered.shift(1)).unique()
    if collided.len():
        frame = pl.DataFrame({"h": hashes, "key": keys}).with_row_index("i")
        suspects = frame.filter(pl.col("h").is_in(collided.implode()))
        later = suspects.filter(~pl.col("key").is_first_distinct()).get_column("i")
        repeated_here = repeated_here.scatter(later, True)
    first_seen_run = pl.Series("first_seen_run", [None], dtype=pl.String).new_from_index(0, n)
    if seen is None or not seen.height:
        return repeated_here, first_seen_run
    earlier = seen.unique("record_key", keep="first")
    in_earlier_run = candidates & keys.is_in(earlier.get_column("record_key").implode())
    if in_earlier_run.any():
        runs = pl.DataFrame({"record_key": keys}).join(earlier, on="record_key", how="left", maintain_order="left")
        first_seen_run = pl.select(pl.when(in_earlier_run).then(runs.get_column("run_id"))).to_series().rename("first_seen_run")
    return (repeated_here | in_earlier_run).rename("dup"), first_seen_run
