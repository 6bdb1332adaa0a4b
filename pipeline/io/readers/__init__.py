"""Usage file readers: real switch and router files in, the canonical usage record out.

`read_usage_file(path, source)` reads one file in the source's format and returns its
canonical records (schemas.usage.USAGE_POLARS) and the rows it had to reject; a
file that cannot be read at all raises UnreadableFile, so the caller quarantines it
whole. Formats and configuration: docs/formats.md.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.io.readers import asterisk, freeswitch, generic_csv, nfdump, parquet
from pipeline.io.readers.common import REJECT_SCHEMA, ReadResult, UnreadableFile
from pipeline.io.readers.config import Source, SourceConfigError, load_sources, source_for

__all__ = [
    "REJECT_SCHEMA",
    "ReadResult",
    "Source",
    "SourceConfigError",
    "UnreadableFile",
    "load_sources",
    "read_usage_file",
    "source_for",
]

_READERS = {
    "asterisk": asterisk.read,
    "freeswitch": freeswitch.read,
    "nfdump": nfdump.read,
    "csv": generic_csv.read,
    "parquet": parquet.read,
}


def read_usage_file(path: Path, source: Source) -> ReadResult:
    """Canonical usage records and row rejects of one file; UnreadableFile if it cannot be read at all."""
    return _READERS[source.format](Path(path), source)
