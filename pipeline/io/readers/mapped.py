"""Files that already carry canonical columns, under their own names: generic CSV and Parquet.

A source's `columns` table maps canonical column → file column (default: the same
name). subscriber_id and start_time must be there, and duration_s or volume_bytes;
record_key, id_type, counterparty, article_key and billable are optional (a missing
or empty cell takes the source's default, a hash, or true). source, source_file and
source_line always come from the file being read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipeline.ingest import parse
from pipeline.io.readers.common import (
    REJECT_SCHEMA,
    ReadResult,
    TextFile,
    UnreadableFile,
    cell_rejects,
    hashed_keys,
    nul_free_columns,
    record_keys,
    usage_frame,
)
from pipeline.io.readers.config import MAPPABLE, REQUIRED_MAPPED, Source
from schemas.usage import EARLIEST, ID_TYPES, LATEST, MAX_DURATION_S, MAX_VOLUME_BYTES

QUANTITIES = ("duration_s", "volume_bytes")
#: Without a record_key, these canonical columns identify a record (hashed into the key).
KEY_COLUMNS = ("subscriber_id", "counterparty", "start_time", "duration_s", "volume_bytes", "article_key")
QUANTITY_RULE = "duration_s or volume_bytes required"


def present_columns(path: Path, source: Source, file_columns: Sequence[str]) -> dict[str, str]:
    """Canonical column → file column for the columns this file has; UnreadableFile when a needed one is missing."""
    have = set(file_columns)
    missing = [source.file_column(c) for c in REQUIRED_MAPPED if source.file_column(c) not in have]
    # a column the configuration names explicitly must be there
    missing += [column for canonical, column in source.columns.items() if column not in have and column not in missing]
    if not any(source.file_column(c) in have for c in QUANTITIES) and not any(c in source.columns for c in QUANTITIES):
        missing.append(" or ".join(source.file_column(c) for c in QUANTITIES))
    if missing:
        raise UnreadableFile(path, f"missing columns {', '.join(missing)} (the file has: {', '.join(file_columns)})")
    return {c: source.file_column(c) for c in MAPPABLE if source.file_column(c) in have}


def casts(source: Source, present: dict[str, str], timestamp_format: str) -> dict[str, parse.Cast]:
    """The Cast of every present column, keyed by file column."""
    by_canonical = {
        "record_key": parse.text(),
        "id_type": parse.text(choices=ID_TYPES),
        "subscriber_id": parse.text(required=True),
        "counterparty": parse.text(),
        "start_time": parse.timestamp(timestamp_format, source.timezone, required=True, earliest=EARLIEST, latest=LATEST),
        "duration_s": parse.integer(minimum=0, maximum=MAX_DURATION_S),
        "volume_bytes": parse.integer(minimum=0, maximum=MAX_VOLUME_BYTES),
        "article_key": parse.text(),
        "billable": parse.boolean(),
    }
    return {file_column: by_canonical[canonical] for canonical, file_column in present.items()}


def mapped_usage(
    fields: pl.DataFrame,
    source: Source,
    file_name: str,
    present: dict[str, str],
    column_casts: dict[str, parse.Cast],
    text: TextFile | None,
) -> ReadResult:
    """Canonical usage and rejects from the file's columns (`fields`: source_line + file columns),
    read by `column_casts` (`casts`; a typed column's Cast has `shown`)."""
    result = parse.parsed(fields, column_casts)
    quantities = [present[c] for c in QUANTITIES if c in present]
    no_quantity = result.frame.select(pl.all_horizontal(pl.col(quantities).is_null())).to_series() & result.ok
    rejects = [cell_rejects(file_name, result, text), _quantity_rejects(file_name, fields.filter(no_quantity), quantities, text)]
    ok = result.ok & ~no_quantity
    good = result.frame.filter(ok)
    column = lambda canonical, default: pl.col(present[canonical]) if canonical in present else default  # noqa: E731
    own_id = present.get("record_key")
    key_columns = [present[c] for c in KEY_COLUMNS if c in present]
    # the key columns as the text they were read from (a typed column: as its Cast shows it)
    typed = {column: cast.shown for column, cast in column_casts.items() if cast.shown is not None}
    as_text = [typed[c](pl.col(c)).alias(c) if c in typed else pl.col(c) for c in key_columns]
    if own_id is None:
        keys = hashed_keys(source.name, fields.filter(ok).select(as_text), key_columns)
    else:
        refetch = lambda lines: fields.filter(pl.col("source_line").is_in(lines.implode())).select(as_text)  # noqa: E731
        keys = record_keys(source.name, fields.select("source_line", own_id).filter(ok), own_id, key_columns, refetch=refetch)
    usage = usage_frame(
        good.with_columns(keys.alias("__record_key")),
        source,
        file_name,
        {
            "record_key": pl.col("__record_key"),
            "id_type": column("id_type", pl.lit(None)).fill_null(pl.lit(source.id_type)),
            "subscriber_id": column("subscriber_id", None),
            "counterparty": column("counterparty", pl.lit(None, pl.String)),
            "start_time": column("start_time", None),
            "duration_s": column("duration_s", pl.lit(None, pl.Int64)),
            "volume_bytes": column("volume_bytes", pl.lit(None, pl.Int64)),
            "article_key": column("article_key", pl.lit(None, pl.String)).fill_null(pl.lit(source.article_key)),
            "billable": column("billable", pl.lit(None, pl.Boolean)).fill_null(True),
        },
    )
    return ReadResult(usage, pl.concat(rejects).sort("source_line", maintain_order=True), nul_free_columns(source))


def _quantity_rejects(file_name: str, rows: pl.DataFrame, quantities: list[str], text: TextFile | None) -> pl.DataFrame:
    """Rejects for rows that say neither how long nor how much."""
    if rows.height == 0:
        return pl.DataFrame(schema=REJECT_SCHEMA)
    named = "/".join(quantities)
    raw = text.raw(rows["source_line"]) if text is not None else pl.repeat(None, rows.height, dtype=pl.String, eager=True)
    return rows.select(
        pl.lit(file_name).alias("source_file"),
        pl.col("source_line"),
        pl.lit(named).alias("column"),
        pl.lit("").alias("value"),
        pl.lit(QUANTITY_RULE).alias("rule"),
        pl.format(
            "{} line {}: column {} value '' breaks rule {}", pl.lit(file_name), "source_line", pl.lit(named), pl.lit(QUANTITY_RULE)
        ).alias("reason"),
        raw.alias("raw"),
    ).cast(REJECT_SCHEMA)
