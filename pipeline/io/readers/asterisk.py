"""Asterisk cdr_csv (Master.csv): one call per line, no header, strings quoted, numbers not.

The columns depend on cdr.conf: 16 always, then uniqueid and userfield
(loguniqueid, loguserfield), then peeraccount, linkedid, sequence (newcdrcolumns).
The variant is configured per source or detected from the most common field count
among the first lines.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.io.readers.cdr_csv import CallColumns, call_usage
from pipeline.io.readers.common import ReadResult, TextFile, detected_layout, text_file
from pipeline.io.readers.config import Source

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
#: A record's own ID: its channel's uniqueid, and from Asterisk 12 (newcdrcolumns) its sequence,
#: which tells apart the records one channel writes when it dials, forwards or is transferred.
#: Without the sequence (the uniqueid variant), those records share the uniqueid: the first keeps
#: it as its key, a later one with other fields gets the hash of KEY_FIELDS after it, so no call
#: is taken for a duplicate of another and the keys of files without such records stay as they were.
OWN_ID = ("uniqueid", "sequence")
#: Without a uniqueid, these fields identify a call (hashed into the record key).
KEY_FIELDS = [
    "accountcode", "src", "dst", "dcontext", "channel", "dstchannel", "start", "answer", "end", "duration", "billsec", "disposition",
]  # fmt: skip
#: The fields the canonical record is made of.
COLUMNS = CallColumns(caller="src", called="dst", start="start", answer="answer", billsec="billsec", cause="disposition")


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one Asterisk Master.csv (plain or gzip)."""
    text = text_file(path)
    variant = source.asterisk_variant if source.asterisk_variant != "auto" else detected_variant(text)
    names = VARIANTS[variant]
    answered = pl.col("disposition").str.to_uppercase() == "ANSWERED"
    return call_usage(
        text,
        source,
        names,
        COLUMNS,
        own_id=[name for name in OWN_ID if name in names],
        key_fields=KEY_FIELDS,
        own_id_repeats="uniqueid" in names and "sequence" not in names,
        billable=answered & (pl.col("billsec") > 0),
        count_rule=f"column count {len(names)} ({variant} variant)",
        layout=f"of an Asterisk Master.csv ({variant} variant)",
    )


def detected_variant(text: TextFile) -> str:
    """The variant whose column count is most common among the first non-blank lines."""
    return detected_layout(text, VARIANTS, "an Asterisk Master.csv")
