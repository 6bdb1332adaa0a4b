"""Any other CSV layout with a header row, read through the source's column mapping (no code)."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from pipeline.io.readers.common import ReadResult, UnreadableFile, split_records, text_file
from pipeline.io.readers.config import Source
from pipeline.io.readers.mapped import casts, mapped_usage, present_columns


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one mapped CSV file (plain or gzip)."""
    text = text_file(path)
    first = text.head(1)
    header_line = first["source_line"][0]
    try:
        header = [name.strip() for name in next(csv.reader([first["line"][0]], delimiter=source.delimiter))]
    except csv.Error as exc:  # a carriage return inside the line: Python's csv refuses it
        raise UnreadableFile(
            path, f"cannot split the header line into column names ({exc}); lines end in a carriage return alone? "
            "End them in LF or CR LF"
        ) from None
    present = present_columns(path, source, header)
    names = _unique(header)
    wanted = [names[header.index(column)] for column in present.values()]
    records = split_records(
        text,
        names,
        first_line=header_line + 1,
        separator=source.delimiter,
        count_rule=f"column count {len(names)} (header)",
    )
    if records.fields.height == 0 and records.rejects.height:
        raise UnreadableFile(path, f"no line has the {len(names)} fields of its header; is the delimiter {source.delimiter!r} right?")
    fields = records.fields.select("source_line", *wanted).rename(dict(zip(wanted, present.values())))
    result = mapped_usage(fields, source, text.name, present, casts(source, present, source.timestamp_format), text)
    rejects = pl.concat([records.rejects, result.rejects]).sort("source_line", maintain_order=True)
    return ReadResult(result.usage, rejects)


def _unique(header: list[str]) -> list[str]:
    """Header names made unique (a repeated name gets its position appended)."""
    seen: set[str] = set()
    names = []
    for i, name in enumerate(header):
        names.append(name if name not in seen and name else f"{name or 'column'}_{i + 1}")
        seen.add(name)
    return names
