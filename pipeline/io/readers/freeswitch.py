"""FreeSWITCH mod_cdr_csv: one call leg per line, no header, every field double-quoted.

Two templates are read: the module's built-in default (13 fields) and the
"example" template shipped in cdr_csv.conf.xml (the same plus read_codec,
write_codec). The template is configured per source or detected by field count.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.io.readers.cdr_csv import CallColumns, call_usage
from pipeline.io.readers.common import ReadResult, detected_layout, text_file
from pipeline.io.readers.config import Source

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
#: Without a uuid, these fields identify a call leg (hashed into the record key).
KEY_FIELDS = [
    "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause",
]  # fmt: skip
#: The fields the canonical record is made of.
COLUMNS = CallColumns(
    caller="caller_id_number", called="destination_number", start="start_stamp",
    answer="answer_stamp", billsec="billsec", cause="hangup_cause",
)  # fmt: skip


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage and rejects from one FreeSWITCH cdr-csv file (plain or gzip)."""
    text = text_file(path)
    template = source.freeswitch_template
    if template == "auto":
        template = detected_layout(text, TEMPLATES, "a FreeSWITCH cdr-csv file")
    names = TEMPLATES[template]
    cleared = (pl.col("hangup_cause").str.to_uppercase() == "NORMAL_CLEARING").fill_null(False)
    answered = cleared | pl.col("answer_stamp").is_not_null()
    # with legs="ab" the module writes both legs of a bridged call: the b-leg (its uuid is the a-leg's
    # bleg_uuid) is the same call again, so only the a-leg bills
    b_leg = pl.col("uuid").is_in(pl.col("bleg_uuid").drop_nulls().implode()).fill_null(False)
    return call_usage(
        text,
        source,
        names,
        COLUMNS,
        own_id=["uuid"],
        key_fields=KEY_FIELDS,
        also=["bleg_uuid"],
        billable=answered & (pl.col("billsec") > 0) & ~b_leg,
        count_rule=f"column count {len(names)} ({template} template)",
        layout=f"of the FreeSWITCH {template} template",
    )
