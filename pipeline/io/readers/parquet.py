"""Parquet files with canonical columns (under the source's column mapping).

Typed columns are checked like text: each is written as text in a fixed form and
read back through the same Casts as a mapped CSV, so a bad value rejects its row
with the same rules and messages. Naive timestamps are in the source's time zone;
timestamps with a zone are converted to UTC. source_line is the 1-based row number.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipeline.io.readers.common import ReadResult, UnreadableFile
from pipeline.io.readers.config import Source
from pipeline.io.readers.mapped import mapped_usage, present_columns

#: The text form typed timestamps are written in before they are checked.
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S%.f"


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one Parquet file."""
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(path, f"not a readable Parquet file ({exc})") from None
    present = present_columns(path, source, frame.columns)
    _check_types(path, {column: frame.schema[column] for column in present.values()})
    start = present["start_time"]
    dtype = frame.schema[start]
    written_as_text = dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    timestamp_format = source.timestamp_format if written_as_text else TIMESTAMP_TEXT
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        source = replace(source, timezone="UTC")  # the zone was in the data; its text is now UTC
    fields = frame.select(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_line"),
        *[_as_text(column, frame.schema[column]).alias(column) for column in present.values()],
    )
    result = mapped_usage(fields, source, path.name, present, timestamp_format, None)
    return result


def _check_types(path: Path, types: dict[str, pl.DataType]) -> None:
    """UnreadableFile naming the first column whose type holds no single value (lists, structs) or no text (binary)."""
    for column, dtype in types.items():
        if not (dtype.is_numeric() or dtype.is_temporal() or isinstance(dtype, _SCALARS)):
            written = pq.read_schema(path).field(column).type  # the type as the file states it
            raise UnreadableFile(
                path, f"column {column} has type {written}, which no canonical column takes (text, numbers, booleans, dates, times or durations)"
            )


#: Column types read besides numbers and temporal types.
_SCALARS = (pl.String, pl.Categorical, pl.Enum, pl.Boolean, pl.Null)


def _as_text(column: str, dtype: pl.DataType) -> pl.Expr:
    """A typed column as the text its Cast reads back. Whole floats and decimals lose their '.0'
    (floats beyond 64 bits keep their own text, which the integer rule then refuses by value);
    a duration is its seconds."""
    value = pl.col(column)
    if isinstance(dtype, pl.Duration):
        micros = value.dt.total_microseconds()
        seconds = (micros // 1_000_000).cast(pl.String)
        return pl.when(micros % 1_000_000 == 0).then(seconds).otherwise((micros / 1_000_000).cast(pl.String))
    if isinstance(dtype, pl.Decimal):
        return value.cast(pl.String).str.replace(r"(\.\d*?)0+$", "${1}").str.strip_suffix(".")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            value = value.dt.convert_time_zone("UTC")
        return value.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
    if dtype == pl.Date:
        return value.dt.strftime("%Y-%m-%d 00:00:00")
    if dtype.is_float():
        whole = value.cast(pl.Int64, strict=False).cast(pl.String)
        return pl.when(value == value.floor()).then(pl.coalesce(whole, value.cast(pl.String))).otherwise(value.cast(pl.String))
    if dtype == pl.Boolean:
        return pl.when(value).then(pl.lit("true")).when(~value).then(pl.lit("false"))
    return value.cast(pl.String)

