"""nfdump -o csv exports, 1.6 (long header, Summary block) and 1.7 (short header)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.io.readers import Source, UnreadableFile, read_usage_file
from pipeline.io.readers.nfdump import HEADER_16, HEADER_17
from schemas.usage import USAGE_POLARS, UsageRecord

UTC = timezone.utc
HEADER_16_TEXT = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,"
    "ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr"
)
HEADER_17_TEXT = "firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows"
SUMMARY_16 = [
    "Summary",
    "flows,bytes,packets,avg_bps,avg_pps,avg_bpp",
    "3,24000,30,0,0,0",
    "Time window: 2026-10-01 09:00:00 - 2026-10-01 09:05:00",
    "Total flows processed: 3, Blocks skipped: 0, Bytes read: 312",
]


def line16(ts, td, sa, da, ipkt, ibyt, sp="51000", dp="443", pr="TCP") -> str:
    """One flow as nfdump 1.6 prints it in -o csv (48 fields)."""
    fields = dict.fromkeys(HEADER_16, "0")
    fields.update(ts=ts, te=ts, td=td, sa=sa, da=da, sp=sp, dp=dp, pr=pr, flg=".AP.SF", ipkt=ipkt, ibyt=ibyt, nh="0.0.0.0", nhb="0.0.0.0", ra="10.0.0.1", tr=ts)
    fields.update({m: "0-0-0" for m in HEADER_16 if m.startswith("mpls")})
    fields.update(ismc="00:00:00:00:00:00", odmc="00:00:00:00:00:00", idmc="00:00:00:00:00:00", osmc="00:00:00:00:00:00")
    return ",".join(fields[name] for name in HEADER_16)


FLOWS_16 = [
    line16("2026-10-01 09:00:00.123", "3.500", "167.112.17.42", "8.8.8.8", "12", "15000"),
    line16("2026-10-01 09:01:00.000", "0.499", "167.112.17.45", "1.1.1.1", "3", "900", pr="UDP", dp="53"),
    line16("2026-10-25 02:30:00.500", "2.500", "8.8.4.4", "167.112.17.46", "15", "8100"),
]
FLOWS_17 = [
    "2026-10-01 09:00:00.123,3.500,6,167.112.17.42,51000,8.8.8.8,443,12,15000,1",
    "2026-10-01 09:01:00.000,0.499,17,167.112.17.45,51001,1.1.1.1,53,3,900,1",
    "2026-10-25 02:30:00.500,2.500,6,2001:db8::46,443,167.112.17.46,51002,15,8100,1",
]


def write(tmp_path, lines, name="nfcapd.202610010900.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def key(*fields):
    return "edge:" + hashlib.md5("\x1f".join(fields).encode()).hexdigest()


def expected(subscribers, counterparties, id_types, keys) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_key": keys,
            "source": ["edge"] * 3,
            "source_file": ["nfcapd.202610010900.csv"] * 3,
            "source_line": [2, 3, 4],
            "id_type": id_types,
            "subscriber_id": subscribers,
            "counterparty": counterparties,
            # Vienna wall clock; the ambiguous autumn hour takes its earlier (summer time) instant
            "start_time": [
                datetime(2026, 10, 1, 7, 0, 0, 123000, tzinfo=UTC),
                datetime(2026, 10, 1, 7, 1, tzinfo=UTC),
                datetime(2026, 10, 25, 0, 30, 0, 500000, tzinfo=UTC),
            ],
            "duration_s": [4, 0, 3],  # rounded half away from zero
            "volume_bytes": [15000, 900, 8100],
            "article_key": ["data"] * 3,
            "billable": [True] * 3,
        },
        schema=USAGE_POLARS,
    )


KEYS_16 = [
    key("2026-10-01 09:00:00.123", "3.500", "167.112.17.42", "51000", "8.8.8.8", "443", "TCP", "12", "15000"),
    key("2026-10-01 09:01:00.000", "0.499", "167.112.17.45", "51000", "1.1.1.1", "53", "UDP", "3", "900"),
    key("2026-10-25 02:30:00.500", "2.500", "8.8.4.4", "51000", "167.112.17.46", "443", "TCP", "15", "8100"),
]
KEYS_17 = [
    key("2026-10-01 09:00:00.123", "3.500", "167.112.17.42", "51000", "8.8.8.8", "443", "6", "12", "15000"),
    key("2026-10-01 09:01:00.000", "0.499", "167.112.17.45", "51001", "1.1.1.1", "53", "17", "3", "900"),
    key("2026-10-25 02:30:00.500", "2.500", "2001:db8::46", "443", "167.112.17.46", "51002", "6", "15", "8100"),
]


@pytest.mark.parametrize(
    ("lines", "side", "want"),
    [
        (
            [HEADER_16_TEXT, *FLOWS_16, *SUMMARY_16],
            "src",
            expected(["167.112.17.42", "167.112.17.45", "8.8.4.4"], ["8.8.8.8", "1.1.1.1", "167.112.17.46"], ["ipv4"] * 3, KEYS_16),
        ),
        (
            [HEADER_16_TEXT, *FLOWS_16, *SUMMARY_16],
            "dst",
            expected(["8.8.8.8", "1.1.1.1", "167.112.17.46"], ["167.112.17.42", "167.112.17.45", "8.8.4.4"], ["ipv4"] * 3, KEYS_16),
        ),
        (
            [HEADER_16_TEXT, *FLOWS_16],  # nfdump -q: no Summary block
            "src",
            expected(["167.112.17.42", "167.112.17.45", "8.8.4.4"], ["8.8.8.8", "1.1.1.1", "167.112.17.46"], ["ipv4"] * 3, KEYS_16),
        ),
        (
            [HEADER_17_TEXT, *FLOWS_17],
            "src",
            expected(["167.112.17.42", "167.112.17.45", "2001:db8::46"], ["8.8.8.8", "1.1.1.1", "167.112.17.46"], ["ipv4", "ipv4", "ipv6"], KEYS_17),
        ),
        (
            [HEADER_17_TEXT, *FLOWS_17],
            "dst",
            expected(["8.8.8.8", "1.1.1.1", "167.112.17.46"], ["167.112.17.42", "167.112.17.45", "2001:db8::46"], ["ipv4"] * 3, KEYS_17),
        ),
    ],
    ids=["1.6-src", "1.6-dst", "1.6-quiet", "1.7-src", "1.7-dst"],
)
def test_both_versions_read_volume_per_address(tmp_path, lines, side, want):
    source = Source(name="edge", format="nfdump", pattern="nfcapd*", timezone="Europe/Vienna", nfdump_side=side)
    result = read_usage_file(write(tmp_path, lines), source)
    assert_frame_equal(result.usage, want)
    assert result.rejects.height == 0
    UsageRecord.validate(result.usage)


def test_the_headers_are_the_ones_nfdump_prints():
    assert HEADER_16 == HEADER_16_TEXT.split(",")
    assert HEADER_17 == HEADER_17_TEXT.split(",")


RULE_TS = "timestamp %Y-%m-%d %H:%M:%S.%3f or %Y-%m-%d %H:%M:%S in Europe/Vienna from 2000-01-01 until 2100-01-01"


@pytest.mark.parametrize(
    ("bad", "column", "value", "rule"),
    [
        ("2026-10-01 09:02:00.000,1.000,6,167.112.17.42,51000,8.8.8.8,443,1,15k,1", "bytes", "15k", "integer 0..1000000000000000"),
        ("2026-10-01 09:02:00.000,1.000,6,167.112.17.42,51000,8.8.8.8,443,1,1000000000000001,1", "bytes", "1000000000000001", "integer 0..1000000000000000"),
        ("2026-10-01 09:02:00.000,1.000,6,167.112.17.300,51000,8.8.8.8,443,1,100,1", "srcAddr", "167.112.17.300", "ip address"),
        ("0000-00-00 00:00:00.000,1.000,6,167.112.17.42,51000,8.8.8.8,443,1,100,1", "firstSeen", "0000-00-00 00:00:00.000", RULE_TS),
        ("2026-10-01 09:02:00.000,-1.000,6,167.112.17.42,51000,8.8.8.8,443,1,100,1", "duration", "-1.000", "number 0..604800"),
        ("2026-10-01 09:02:00.000,1.000,6,167.112.17.42,51000,8.8.8.8,443,1,100", "(row)", "9", "column count 10 (nfdump 1.7 header)"),
        ("2026-10-01 09:02:00.000,1.000,6,167.112.17.42,51000,8.8.8.8,443,1,100,1,1", "(row)", "11", "column count 10 (nfdump 1.7 header)"),
    ],
    ids=["bytes", "bytes-over-1-PB", "address", "no-time", "negative-duration", "short", "long"],
)
def test_malformed_flows_are_rejected_and_the_rest_read(tmp_path, bad, column, value, rule):
    lines = [HEADER_17_TEXT, FLOWS_17[0], bad, FLOWS_17[1]]
    result = read_usage_file(write(tmp_path, lines), Source(name="edge", format="nfdump", pattern="*", timezone="Europe/Vienna"))
    assert result.usage["source_line"].to_list() == [2, 4]
    assert result.rejects.select("source_line", "column", "value", "rule", "raw").rows() == [(3, column, value, rule, bad)]


def test_a_header_without_the_flow_columns_is_unreadable(tmp_path):
    with pytest.raises(UnreadableFile, match="not an nfdump CSV export: header 'date,caller,callee'"):
        read_usage_file(write(tmp_path, ["date,caller,callee", "2026-10-01,1,2"]), Source(name="edge", format="nfdump", pattern="*"))


@pytest.mark.parametrize(
    "lines",
    [[HEADER_17_TEXT, FLOWS_17[0]], [HEADER_16_TEXT, FLOWS_16[0], *SUMMARY_16]],
    ids=["1.7", "1.6-with-summary"],
)
def test_an_export_whose_lines_end_in_a_carriage_return_alone_is_unreadable(tmp_path, lines):
    """Lines ended by CR alone are one physical line: read, it was a header of its own names and the
    flows after it, an empty export whose flows were in no outcome (ingest audit)."""
    path = tmp_path / "nfcapd.202610010900.csv"
    path.write_bytes(("\r".join(lines) + "\r").encode())
    with pytest.raises(UnreadableFile, match="lines end in a carriage return alone"):
        read_usage_file(path, Source(name="edge", format="nfdump", pattern="*"))


def test_an_export_whose_lines_end_in_cr_cr_lf_is_read_not_quarantined(tmp_path):
    """CR CR LF (a CR LF file converted to CR LF again) leaves a CR at each line's end, not a CR alone
    between lines: every flow is read or rejected with its line, as before the CR-alone rule."""
    path = tmp_path / "nfcapd.202610010900.csv"
    path.write_bytes(("\r\r\n".join([HEADER_17_TEXT, *FLOWS_17]) + "\r\r\n").encode())
    result = read_usage_file(path, Source(name="edge", format="nfdump", pattern="*"))
    assert result.usage.height + result.rejects.select("source_line").n_unique() == len(FLOWS_17)


def test_an_export_without_flows_is_empty_not_unreadable(tmp_path):
    lines = [HEADER_16_TEXT, "Summary", "flows,bytes,packets,avg_bps,avg_pps,avg_bpp", "0,0,0,0,0,0"]
    result = read_usage_file(write(tmp_path, lines), Source(name="edge", format="nfdump", pattern="*"))
    assert (result.usage.height, result.rejects.height) == (0, 0)
    assert result.usage.schema == USAGE_POLARS


BAD_17 = "2026-10-01 09:02:00.000,1.000,6,167.112.17.42,51000,8.8.8.8,443,1,15k,1"
SUMMARY_17 = ["Summary", "flows,bytes,packets,avg_bps,avg_pps,avg_bpp", "2,15900,15,0,0,0"]


@pytest.mark.parametrize(
    ("lines", "read", "rejected"),
    [
        # two `nfdump -o csv >> flows.csv` runs: each export's flows are read, its Summary block skipped
        ([HEADER_16_TEXT, FLOWS_16[0], *SUMMARY_16, HEADER_16_TEXT, FLOWS_16[1], FLOWS_16[2], *SUMMARY_16],
         [(2, "167.112.17.42"), (9, "167.112.17.45"), (10, "8.8.4.4")], []),
        # `-q` runs appended: the repeated header lines are skipped
        ([HEADER_17_TEXT, FLOWS_17[0], HEADER_17_TEXT, FLOWS_17[1], "", HEADER_17_TEXT, FLOWS_17[2]],
         [(2, "167.112.17.42"), (4, "167.112.17.45"), (7, "2001:db8::46")], []),
        # a bad flow in a later export is a reject with its own line number
        ([HEADER_17_TEXT, FLOWS_17[0], *SUMMARY_17, HEADER_17_TEXT, BAD_17, FLOWS_17[1], *SUMMARY_17, HEADER_17_TEXT, FLOWS_17[2]],
         [(2, "167.112.17.42"), (8, "167.112.17.45"), (13, "2001:db8::46")], [(7, "bytes", BAD_17)]),
        # `nfdump -q -o csv >>` after a run with a Summary: the flows follow the Summary block without a header
        ([HEADER_16_TEXT, FLOWS_16[0], *SUMMARY_16, FLOWS_16[1], FLOWS_16[2]],
         [(2, "167.112.17.42"), (8, "167.112.17.45"), (9, "8.8.4.4")], []),
        # a 1.7 export appended to a 1.6 file (after an upgrade): its lines have another layout, so they are
        # rejects with their line numbers, never skipped as part of the Summary block
        ([HEADER_16_TEXT, FLOWS_16[0], *SUMMARY_16, HEADER_17_TEXT, FLOWS_17[0]],
         [(2, "167.112.17.42")], [(8, "(row)", HEADER_17_TEXT), (9, "(row)", FLOWS_17[0])]),
    ],
    ids=["1.6-with-summaries", "1.7-quiet", "reject-in-second-export", "quiet-after-summary", "1.7-after-1.6"],
)
def test_exports_appended_to_one_file_are_all_read(tmp_path, lines, read, rejected):
    result = read_usage_file(write(tmp_path, lines), Source(name="edge", format="nfdump", pattern="*", timezone="Europe/Vienna"))
    assert result.usage.select("source_line", "subscriber_id").rows() == read
    assert result.rejects.select("source_line", "column", "raw").rows() == rejected
