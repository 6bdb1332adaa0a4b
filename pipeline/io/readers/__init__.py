"""Usage file readers: real switch and router files in, the canonical usage record out.

`read_usage_file(path, source)` reads one file in the source's format and returns its
canonical records (schemas.usage.USAGE_POLARS) and the rows it had to reject; a
file that cannot be read at all raises UnreadableFile, so the caller quarantines it
whole. Formats and configuration: docs/formats.md.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.ingest.parse import NUL_RULE
from pipeline.io.readers import asterisk, freeswitch, generic_csv, nfdump, parquet
from pipeline.io.readers.common import REJECT_SCHEMA, ReadResult, UnreadableFile
from pipeline.io.readers.config import Source, SourceConfigError, load_sources, source_for
from schemas.usage import USAGE_POLARS

__all__ = [
    "REJECT_SCHEMA",
    "ReadResult",
    "Source",
    "SourceConfigError",
    "UnreadableFile",
    "load_sources",
    "read_usage_file",
    "usage_batch",
    "source_for",
]

_READERS = {
    "asterisk": asterisk.read,
    "freeswitch": freeswitch.read,
    "nfdump": nfdump.read,
    "csv": generic_csv.read,
    "parquet": parquet.read,
}


#: How a NUL character is shown in a reject (value, raw line, reason).
NUL_SHOWN = "\\x00"


def read_usage_file(path: Path, source: Source) -> ReadResult:
    """Canonical usage records and row rejects of one file; UnreadableFile if it cannot be read at all.

    The records come as one chunk per column. A reader's columns are split differently (a
    Parquet file's by row group, a computed key whole), and every eager query of a frame whose
    columns are split differently copies the whole frame first: a batch of such files paid that
    on every query of every stage. Some such frames also made a Polars string query panic (the
    NUL check's), so they are joined before it."""
    result = _READERS[source.format](Path(path), source)
    return _without_nul(ReadResult(result.usage.rechunk(), result.rejects, result.nul_free))


def usage_batch(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The records of several files (read_usage_file's) as one batch, in their order, one chunk per
    column: the rating's stages read a contiguous batch faster than the copy costs (docs/performance.md)."""
    return pl.concat(frames, rechunk=True) if frames else pl.DataFrame(schema=USAGE_POLARS)


def _without_nul(result: ReadResult) -> ReadResult:
    """`result` with every record holding a NUL character in a text column rejected (NUL_RULE,
    for the first such column) and every NUL of the rejects shown as NUL_SHOWN.

    The readers' text casts (parse.text) reject such a cell already, naming the file's column,
    with the line's text; this catches what a reader makes of several fields (a hashed record key
    is hex, but a source's own key is the field as written)."""
    usage, rejects = result.usage, result.rejects
    texts = [name for name, dtype in usage.schema.items() if dtype == pl.String and name not in result.nul_free]
    holds = [pl.col(name).str.contains("\x00", literal=True).fill_null(False) for name in texts]
    bad = usage.select(pl.any_horizontal(holds).alias("bad")).to_series() if texts and usage.height else None
    if bad is not None and bad.any():
        value = pl.coalesce(pl.when(h).then(pl.col(name)) for name, h in zip(texts, holds))
        column = pl.coalesce(pl.when(h).then(pl.lit(name)) for name, h in zip(texts, holds))
        found = usage.filter(bad).select(
            "source_file", "source_line", column.alias("column"), value.alias("value"), pl.lit(NUL_RULE).alias("rule"),
        )  # fmt: skip
        found = found.with_columns(
            pl.format("{} line {}: column {} value '{}' breaks rule {}", "source_file", "source_line", "column", "value", "rule").alias("reason"),
            pl.lit(None, pl.String).alias("raw"),
        )
        rejects = pl.concat([rejects, found.cast(REJECT_SCHEMA)]).sort("source_line", maintain_order=True)
        usage = usage.filter(~bad)
    shown = [pl.col(c).str.replace_all("\x00", NUL_SHOWN, literal=True) for c in ("value", "reason", "raw")]
    return ReadResult(usage, rejects.with_columns(shown))
