"""FreeSWITCH mod_cdr_csv: one call leg per line, no header, every field double-quoted.

Two templates are read: the module's built-in default (13 fields) and the
"example" template shipped in cdr_csv.conf.xml (the same plus read_codec,
write_codec). The template is configured per source or detected by field count.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import polars as pl

from pipeline.ingest import parse
from pipeline.io.readers.common import (
    ReadResult,
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

DEFAULT = [
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
]
#: The column list of each template, the one place it is declared.
TEMPLATES = {"default": DEFAULT, "example": [*DEFAULT, "read_codec", "write_codec"]}
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Without a uuid, these fields identify a call leg (hashed into the record key).
KEY_FIELDS = [
    "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause",
]  # fmt: skip
MAX_DURATION_S = 7 * 24 * 3600
#: The fields the canonical record is made of.
NEEDED = ("caller_id_number", "destination_number", "start_stamp", "answer_stamp", "billsec", "hangup_cause")


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one FreeSWITCH cdr-csv file (plain or gzip)."""
    text = text_file(path)
    template = source.freeswitch_template
    if template == "auto":
        template = detected_layout(text, TEMPLATES, "a FreeSWITCH cdr-csv file")
    names = TEMPLATES[template]
    keep = [name for name in names if name in NEEDED or name == "uuid"]
    records = split_records(text, names, count_rule=f"column count {len(names)} ({template} template)", keep=keep)
    if records.fields.height == 0 and records.rejects.height:
        raise UnreadableFile(path, f"no line has the {len(names)} fields of the FreeSWITCH {template} template")
    when = partial(parse.timestamp, DATE_FORMAT, source.timezone, earliest=EARLIEST, latest=LATEST)
    result = parse.parsed(
        records.fields,
        {
            "caller_id_number": parse.text(required=True),
            "destination_number": parse.text(),
            "start_stamp": when(required=True),
            "answer_stamp": when(),
            "billsec": parse.integer(required=True, minimum=0, maximum=MAX_DURATION_S),
            "hangup_cause": parse.text(),
        },
    )
    good = result.good
    keys = record_keys(
        source.name,
        records.fields.filter(result.ok),
        "uuid",
        KEY_FIELDS,
        refetch=lambda lines: fields_of_lines(text, names, lines),
    )
    cleared = (pl.col("hangup_cause").str.to_uppercase() == "NORMAL_CLEARING").fill_null(False)
    answered = cleared | pl.col("answer_stamp").is_not_null()
    usage = usage_frame(
        good.with_columns(keys),
        source,
        text.name,
        {
            "record_key": pl.col("record_key"),
            "id_type": pl.lit(source.id_type),
            "subscriber_id": pl.col("caller_id_number"),
            "counterparty": pl.col("destination_number"),
            "start_time": pl.coalesce("answer_stamp", "start_stamp"),
            "duration_s": pl.col("billsec"),
            "volume_bytes": pl.lit(None, pl.Int64),
            "article_key": pl.lit(source.article_key),
            "billable": answered & (pl.col("billsec") > 0),
        },
    )
    rejects = pl.concat([records.rejects, cell_rejects(text.name, result, text)]).sort("source_line", maintain_order=True)
    return ReadResult(usage, rejects)
