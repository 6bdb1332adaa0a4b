"""Headerless switch CDR CSV files (Asterisk Master.csv, FreeSWITCH cdr-csv): one call per line.

Both formats carry the same call facts under their own column names and differ only in
their layouts and in which calls are billable, so each reader declares those and this
module does the rest in one pass: fields, rejects, casts, record keys, the canonical frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import polars as pl

from pipeline.ingest import parse
from pipeline.io.readers.common import (
    ReadResult,
    TextFile,
    UnreadableFile,
    cell_rejects,
    fields_of_lines,
    nul_free_columns,
    record_keys,
    split_records,
    usage_frame,
)
from pipeline.io.readers.config import Source
from schemas.usage import EARLIEST, LATEST, MAX_DURATION_S

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CallColumns:
    """A format's names for the call facts the canonical record is made of."""

    caller: str  #: the subscriber (A-number); required
    called: str  #: the counterparty (B-number)
    start: str  #: when the call started; required
    answer: str  #: when it was answered; the record's start_time where set
    billsec: str  #: billed seconds; required
    cause: str  #: the disposition or hangup cause

    @property
    def needed(self) -> tuple[str, ...]:
        return (self.caller, self.called, self.start, self.answer, self.billsec, self.cause)


def call_usage(
    text: TextFile,
    source: Source,
    names: Sequence[str],
    columns: CallColumns,
    *,
    own_id: Sequence[str],
    key_fields: Sequence[str],
    own_id_repeats: bool = False,
    also: Sequence[str] = (),
    billable: pl.Expr,
    count_rule: str,
    layout: str,
) -> ReadResult:
    """Canonical usage and rejects from one headerless CDR CSV file whose lines have the fields `names`.

    Args:
        own_id: the fields that make the switch's own ID of a record (none: the layout has none).
        key_fields: without an own ID, these fields identify a call (hashed into the record key).
        own_id_repeats: the own ID may be shared by several records (one channel's): common.record_keys(repeats).
        also: other fields `billable` reads (kept as text).
        billable: the format's rule over the parsed fields (`columns`), null taken as not billable.
        count_rule: the rule named in field-count rejects.
        layout: what the file should be, for the error when no line fits (e.g. "of the FreeSWITCH default template").
    """
    needed = columns.needed
    keep = [name for name in names if name in needed or name in own_id or name in also or (not own_id and name in key_fields)]
    records = split_records(text, names, count_rule=count_rule, keep=keep)
    if records.fields.height == 0 and records.rejects.height:
        raise UnreadableFile(text.path, f"no line has the {len(names)} fields {layout}")
    when = partial(parse.timestamp, DATE_FORMAT, source.timezone, earliest=EARLIEST, latest=LATEST)
    result = parse.parsed(
        records.fields,
        {
            columns.caller: parse.text(required=True),
            columns.called: parse.text(),
            columns.start: when(required=True),
            columns.answer: when(),
            columns.billsec: parse.integer(required=True, minimum=0, maximum=MAX_DURATION_S),
            columns.cause: parse.text(),
            # the key is made of these as written: a NUL in one is rejected here, naming the field
            **{name: parse.text() for name in own_id},
            **{name: parse.text() for name in also},
        },
    )
    keys = record_keys(
        source.name,
        records.fields.filter(result.ok),
        own_id or None,
        key_fields,
        refetch=lambda lines: fields_of_lines(text, names, lines),
        repeats=own_id_repeats,
    )
    usage = usage_frame(
        result.good.with_columns(keys),
        source,
        text.name,
        {
            "record_key": pl.col("record_key"),
            "id_type": pl.lit(source.id_type),
            "subscriber_id": pl.col(columns.caller),
            "counterparty": pl.col(columns.called),
            "start_time": pl.coalesce(columns.answer, columns.start),
            "duration_s": pl.col(columns.billsec),
            "volume_bytes": pl.lit(None, pl.Int64),
            "article_key": pl.lit(source.article_key),
            "billable": billable.fill_null(False),
        },
    )
    rejects = pl.concat([records.rejects, cell_rejects(text.name, result, text)]).sort("source_line", maintain_order=True)
    return ReadResult(usage, rejects, nul_free_columns(source))
