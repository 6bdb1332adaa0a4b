"""nfdump `-o csv` traffic exports: one flow per line under a header, no quoting.

nfdump 1.6 prints a long fixed header (`ts,te,td,sa,da,...`) and, unless run with
-q, a `Summary` block after the flows; nfdump 1.7 prints `firstSeen,duration,
proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows`. The version is told by
the header; columns are found by name, so older 1.6 headers (ending `...,ra,eng`)
read too. The Summary block is skipped; so are the header and Summary block of each
further export appended to the same file (`nfdump -o csv >> flows.csv`). Every other
line is a flow of the first header's layout: read, or rejected with its line number.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from pipeline.ingest import parse
from pipeline.io.readers.common import (
    ReadResult,
    Records,
    TextFile,
    UnreadableFile,
    cell_rejects,
    record_keys,
    split_records,
    text_file,
    usage_frame,
)
from pipeline.io.readers.config import Source
from schemas.usage import EARLIEST, LATEST, MAX_DURATION_S, MAX_VOLUME_BYTES

#: nfdump 1.6 `-o csv` header (nfdump.c FORMAT_csv).
HEADER_16 = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,"
    "svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,"
    "cl,sl,al,ra,eng,exid,tr"
).split(",")
#: nfdump 1.7 `-o csv` header (output_csv.c: "%ts,%td,%pr,%sa,%sp,%da,%dp,%pkt,%byt,%fl").
HEADER_17 = "firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows".split(",")
#: Which column holds what, per version: the one place the reader names nfdump columns.
ROLES = {
    "1.6": {
        "first_seen": "ts", "duration": "td", "proto": "pr", "src": "sa", "src_port": "sp",
        "dst": "da", "dst_port": "dp", "packets": "ipkt", "bytes": "ibyt",
    },
    "1.7": {
        "first_seen": "firstSeen", "duration": "duration", "proto": "proto", "src": "srcAddr", "src_port": "srcPort",
        "dst": "dstAddr", "dst_port": "dstPort", "packets": "packets", "bytes": "bytes",
    },
}  # fmt: skip
#: nfdump prints times with milliseconds ("2026-10-01 12:00:00.123"); without them is read too.
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%3f", "%Y-%m-%d %H:%M:%S")
#: A flow is identified by these roles (hashed into the record key).
KEY_ROLES = ["first_seen", "duration", "src", "src_port", "dst", "dst_port", "proto", "packets", "bytes"]
SUMMARY = "Summary"


def read(path: Path, source: Source) -> ReadResult:
    """Canonical usage (volume in bytes per IP address) and rejects from one nfdump CSV export."""
    text = text_file(path)
    header_line, header = _header(text)
    version, roles = _version(text, header)
    names = _unique(header)
    column = {role: names[header.index(name)] for role, name in roles.items()}
    blocks = [
        split_records(
            text,
            names,
            first_line=first_line,
            start=start,
            end=end,
            quote=None,
            count_rule=f"column count {len(names)} (nfdump {version} header)",
            keep=list(column.values()),
        )
        for first_line, start, end in _flow_blocks(text, header_line)
    ]
    records = Records(pl.concat([b.fields for b in blocks]), pl.concat([b.rejects for b in blocks]))
    if records.fields.height == 0 and records.rejects.height:
        raise UnreadableFile(path, f"no line has the {len(names)} fields of its nfdump {version} header")
    customer, other = ("src", "dst") if source.nfdump_side == "src" else ("dst", "src")
    result = parse.parsed(
        records.fields,
        {
            column["first_seen"]: parse.timestamp(TIME_FORMATS, source.timezone, required=True, earliest=EARLIEST, latest=LATEST),
            column["duration"]: parse.number(required=True, minimum=0, maximum=MAX_DURATION_S),
            column[customer]: parse.ip_address(required=True),
            column[other]: parse.ip_address(),
            column["bytes"]: parse.integer(required=True, minimum=0, maximum=MAX_VOLUME_BYTES),
        },
    )
    good = result.good
    keys = record_keys(source.name, records.fields.filter(result.ok), None, [column[role] for role in KEY_ROLES])
    subscriber = pl.col(column[customer])
    usage = usage_frame(
        good.with_columns(keys),
        source,
        text.name,
        {
            "record_key": pl.col("record_key"),
            "id_type": pl.when(subscriber.str.contains(":", literal=True)).then(pl.lit("ipv6")).otherwise(pl.lit("ipv4")),
            "subscriber_id": subscriber,
            "counterparty": pl.col(column[other]),
            "start_time": pl.col(column["first_seen"]),
            "duration_s": pl.col(column["duration"]).round(0, mode="half_away_from_zero").cast(pl.Int64),
            "volume_bytes": pl.col(column["bytes"]),
            "article_key": pl.lit(source.article_key),
            "billable": pl.lit(True),
        },
    )
    rejects = pl.concat([records.rejects, cell_rejects(text.name, result, text)]).sort("source_line", maintain_order=True)
    return ReadResult(usage, rejects)


def _header(text: TextFile) -> tuple[int, list[str]]:
    """The first non-blank line (its number and column names)."""
    first = text.head(1)
    if "\r" in first["line"][0].rstrip("\r"):  # its line break stripped: the next lines follow a CR alone (CR CR LF ends in one)
        raise UnreadableFile(text.path, "lines end in a carriage return alone (classic Mac OS): end them in LF or CR LF")
    return first["source_line"][0], [name.strip() for name in first["line"][0].split(",")]


def _version(text: TextFile, header: list[str]) -> tuple[str, dict[str, str]]:
    """The nfdump version whose columns the header has, and its role → column map."""
    for version, roles in ROLES.items():
        if set(roles.values()) <= set(header):
            return version, roles
    shown = ",".join(header[:10]) + (",..." if len(header) > 10 else "")
    raise UnreadableFile(
        text.path,
        f"not an nfdump CSV export: header '{shown}' has neither the 1.6 columns "
        f"({','.join(ROLES['1.6'].values())}) nor the 1.7 columns ({','.join(ROLES['1.7'].values())})",
    )


def _unique(header: list[str]) -> list[str]:
    """Header names made unique (a repeated name gets its position appended) so every field has a name."""
    seen: set[str] = set()
    names = []
    for i, name in enumerate(header):
        names.append(name if name not in seen else f"{name}_{i + 1}")
        seen.add(name)
    return names


def _flow_blocks(text: TextFile, header_line: int) -> list[tuple[int, int, int]]:
    """Where the flows are: (first line, its byte offset, end byte offset) of each run of flow lines.

    Every `nfdump -o csv` run writes a header line, its flows and (without -q) a Summary block,
    so a file that several runs appended to holds several exports. Flows run to the next line
    `Summary`, repeated header line or the end. A repeated header line is skipped; a Summary
    block is skipped line by line while its lines look like a Summary's (SUMMARY_LINES) or are
    blank, so whatever follows it (flows appended with -q, another version's header and flows)
    is read, or rejected with its line number, never dropped.
    """
    data = text.data
    header_at = text.offset(header_line)
    header_end = data.find(b"\n", header_at)
    if header_end == -1:
        return [(header_line + 1, len(data), len(data))]  # the header is the file's last line: no flows
    header = data[header_at:header_end].removesuffix(b"\r")
    position, line = header_end + 1, header_line + 1
    blocks = []
    while position < len(data):  # one pass per run of flows, Summary block or repeated header
        summary, repeated = _line_start(data, SUMMARY.encode(), position), _line_start(data, header, position)
        end = min((offset for offset in (summary, repeated) if offset is not None), default=len(data))
        if end > position:
            blocks.append((line, position, end))
            line += data.count(b"\n", position, end)
            position = end
        if position >= len(data):
            break
        skip = position == repeated  # the repeated header, then (as after a Summary) Summary-like lines
        while position < len(data) and (skip or SUMMARY_LINES.match(_line_at(data, position))):  # the block's few lines
            skip = False
            position, line = position + len(_line_at(data, position)), line + 1
    return blocks or [(header_line + 1, len(data), len(data))]


#: The lines of nfdump 1.6's Summary block (and blank lines), which are not flows.
SUMMARY_LINES = re.compile(
    rb"(?:Summary|flows,bytes,packets,avg_bps,avg_pps,avg_bpp|[0-9.,]+|Time window:.*|Total flows processed:.*|Sys:.*|\s*)\r?$"
)


def _line_at(data: bytes, position: int) -> bytes:
    """The text of the line starting at byte offset `position`, with its line break."""
    following = data.find(b"\n", position)
    return data[position:] if following == -1 else data[position : following + 1]


def _line_start(data: bytes, content: bytes, start: int) -> int | None:
    """Byte offset of the first line from byte offset `start` (a line's start, past the first line)
    whose text is `content`, if there is one."""
    marker = b"\n" + content
    position = data.find(marker, start - 1)
    while position != -1:
        after = data[position + len(marker) : position + len(marker) + 2]
        if after in (b"", b"\n", b"\r", b"\r\n") or after[:1] == b"\n":
            return position + 1
        position = data.find(marker, position + 1)
    return None
