"""Parquet files with canonical columns (under the source's column mapping).

Typed columns are checked like text: a bad value rejects its row with the same rules and
messages as the same value written as text in a mapped CSV. Integer quantities, boolean
`billable` and timestamp start times are read as they are (a Cast with `shown`: the rule is
the text's, and a bad value is reported in the fixed text form below); other typed columns are
written as that text and read back through the text Casts. Naive timestamps are in the
source's time zone; timestamps with a zone are converted to UTC; a start time written as text or
as a number is read by the source's timestamp_format. source_line is the 1-based row number.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.ingest import parse
from pipeline.io.readers.common import ReadResult, UnreadableFile
from pipeline.io.readers.config import Source
from pipeline.io.readers.mapped import QUANTITIES, casts, mapped_usage, present_columns

#: The text form typed timestamps are written in before they are checked.
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S%.f"


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one Parquet file; only the columns the source uses are read
    (another column, of a type Polars cannot read, does not matter)."""
    try:
        file_columns = pq.read_schema(path).names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFile(path, f"not a readable Parquet file ({exc})") from None
    present = present_columns(path, source, file_columns)
    try:
        frame = pl.read_parquet(path, columns=list(present.values()))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UnreadableFile(path, f"not a readable Parquet file ({exc})") from None
    _check_types(path, {column: frame.schema[column] for column in present.values()})
    start = present["start_time"]
    dtype = frame.schema[start]
    # a typed time is checked in the fixed text form; text and numbers (`%s` seconds, `%Y%m%d%H%M%S`
    # digits) as the text they are, by the source's timestamp_format, as a CSV cell would be
    timestamp_format = TIMESTAMP_TEXT if dtype.is_temporal() else source.timestamp_format
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        source = replace(source, timezone="UTC")  # the zone was in the data; its text is now UTC
    column_casts = casts(source, present, timestamp_format)
    for canonical, column in present.items():
        column_casts[column] = _typed(canonical, frame.schema[column], column_casts[column]) or column_casts[column]
    fields = frame.select(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_line"),
        *[
            (pl.col(column) if column_casts[column].shown is not None else _as_text(pl.col(column), frame.schema[column])).alias(column)
            for column in present.values()
        ],
    )
    return mapped_usage(fields, source, path.name, present, column_casts, None)


def _typed(canonical: str, dtype: pl.DataType, cast: parse.Cast) -> parse.Cast | None:
    """`cast` reading the typed column directly, to the value its text (`_as_text`) would give;
    None: the column is read as that text."""
    shown = lambda value: _as_text(value, dtype)  # noqa: E731
    if canonical in QUANTITIES and dtype.is_integer():
        return replace(cast, shown=shown)  # integer's conversion takes integers as they are
    if canonical == "billable" and dtype == pl.Boolean:
        return replace(cast, convert=lambda value: value, shown=shown)
    if canonical == "start_time" and isinstance(dtype, pl.Datetime):
        return replace(cast, convert=lambda value: _utc(value, dtype), fallbacks=(), shown=shown)
    return None


def _utc(value: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    """A timestamp column in microseconds, as its text read back by parse.timestamp: the digits
    past microseconds dropped, a time with a zone in UTC (the instant as it is), a naive time left
    for the Cast's zone (the source's `timezone`) to make UTC."""
    value = value.dt.cast_time_unit("us")
    if dtype.time_zone is not None:
        return value.dt.convert_time_zone("UTC")
    return value


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


def _as_text(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A typed column as the text its Cast reads back. Whole floats and decimals lose their '.0'
    (floats beyond 64 bits keep their own text, which the integer rule then refuses by value);
    a duration is its seconds."""
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

