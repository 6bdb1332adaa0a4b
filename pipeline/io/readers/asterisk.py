"""Asterisk cdr_csv (Master.csv): one call per line, no header, strings quoted, numbers not.

The columns depend on cdr.conf: 16 always, then uniqueid and userfield
(loguniqueid, loguserfield), then peeraccount, linkedid, sequence (newcdrcolumns).
The variant is configured per source or detected from the most common field count
among the first lines.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import polars as pl

from pipeline.ingest import parse
from pipeline.io.readers.common import (
    ReadResult,
    TextFile,
    UnreadableFile,
    cell_rejects,
    detected_layout,
    fields_of_lines,
    record_keys,
    split_records,
    text_file,
    usage_frame,
)
from pipeline.io.readers.config import Source
from schemas.usage import EARLIEST, LATEST

BASE = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
]
#: The column list of each variant, the one place it is declared.
VARIANTS = {
    "base": BASE,
    "uniqueid": [*BASE, "uniqueid", "userfield"],
    "linkedid": [*BASE, "uniqueid", "userfield", "peeraccount", "linkedid", "sequence"],
}
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Without a uniqueid, these fields identify a call (hashed into the record key).
KEY_FIELDS = [
    "accountcode", "src", "dst", "dcontext", "channel", "dstchannel", "start", "answer", "end", "duration", "billsec", "disposition",
]  # fmt: skip
MAX_DURATION_S = 7 * 24 * 3600
#: The fields the canonical record is made of.
NEEDED = ("src", "dst", "start", "answer", "billsec", "disposition")


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one Asterisk Master.csv (plain or gzip)."""
    text = text_file(path)
    variant = source.asterisk_variant if source.asterisk_variant != "auto" else detected_variant(text)
    names = VARIANTS[variant]
    own_id = "uniqueid" if "uniqueid" in names else None
    keep = [name for name in names if name in NEEDED or name == own_id or (own_id is None and name in KEY_FIELDS)]
    records = split_records(text, names, count_rule=f"column count {len(names)} ({variant} variant)", keep=keep)
    if records.fields.height == 0 and records.rejects.height:
        raise UnreadableFile(path, f"no line has the {len(names)} fields of an Asterisk Master.csv ({variant} variant)")
    when = partial(parse.timestamp, DATE_FORMAT, source.timezone, earliest=EARLIEST, latest=LATEST)
    result = parse.parsed(
        records.fields,
        {
            "src": parse.text(required=True),
            "dst": parse.text(),
            "start": when(required=True),
            "answer": when(),
            "billsec": parse.integer(required=True, minimum=0, maximum=MAX_DURATION_S),
            "disposition": parse.text(),
        },
    )
    good = result.good
    keys = record_keys(
        source.name,
        records.fields.filter(result.ok),
        own_id,
        KEY_FIELDS,
        refetch=lambda lines: fields_of_lines(text, names, lines),
    )
    answered = pl.col("disposition").str.to_uppercase() == "ANSWERED"
    usage = usage_frame(
        good.with_columns(keys),
        source,
        text.name,
        {
            "record_key": pl.col("record_key"),
            "id_type": pl.lit(source.id_type),
            "subscriber_id": pl.col("src"),
            "counterparty": pl.col("dst"),
            "start_time": pl.coalesce("answer", "start"),
            "duration_s": pl.col("billsec"),
            "volume_bytes": pl.lit(None, pl.Int64),
            "article_key": pl.lit(source.article_key),
            "billable": (answered & (pl.col("billsec") > 0)).fill_null(False),
        },
    )
    rejects = pl.concat([records.rejects, cell_rejects(text.name, result, text)]).sort("source_line", maintain_order=True)
    return ReadResult(usage, rejects)


def detected_variant(text: TextFile) -> str:
    """The variant whose column count is most common among the first non-blank lines."""
    return detected_layout(text, VARIANTS, "an Asterisk Master.csv")
