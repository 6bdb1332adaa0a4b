"""Asterisk cdr_csv (Master.csv): every column variant, quoting, dispositions, malformed rows, time zones."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.io.readers import Source, UnreadableFile, read_usage_file
from schemas.outputs import REJECTS
from schemas.usage import USAGE_POLARS, UsageRecord

VIENNA = Source(name="pbx", format="asterisk", pattern="Master*.csv*", timezone="Europe/Vienna")
UTC = timezone.utc

# One call per line, as cdr_csv writes them: strings quoted (inner quotes doubled), numbers bare,
# an unanswered call's answer time empty and unquoted.
BASE_LINES = [
    '"acc1","43316812724","4930123456","from-internal","""Alice, Smith"" <43316812724>","SIP/100-00000001","SIP/trunk-00000002","Dial","SIP/trunk/4930123456,60","2026-10-01 09:00:00","2026-10-01 09:00:05","2026-10-01 09:01:05",65,60,"ANSWERED","DOCUMENTATION"',
    '"acc1","4331681272420","4366412345","from-internal","""Bob"" <4331681272420>","SIP/101-00000003","","Dial","SIP/trunk/4366412345,60","2026-10-01 09:05:00",,"2026-10-01 09:05:20",20,0,"NO ANSWER","DOCUMENTATION"',
    '"acc1","43316812724","4930123499","from-internal","Alice <43316812724>","SIP/100-00000004","SIP/trunk-00000005","Dial","SIP/trunk/4930123499,60","2026-10-01 09:10:00",,"2026-10-01 09:10:03",3,0,"BUSY","DOCUMENTATION"',
    '"acc1","43316812724","0049301234","from-internal","Alice <43316812724>","SIP/100-00000006","","Dial","SIP/trunk/0049301234,60","2026-10-01 09:15:00",,"2026-10-01 09:15:00",0,0,"FAILED","DOCUMENTATION"',
    '"acc1","4331681555","4930123401","from-internal","Carl <4331681555>","SIP/102-00000007","SIP/trunk-00000008","Dial","SIP/trunk/4930123401,60","2026-10-01 09:20:00","2026-10-01 09:20:02","2026-10-01 09:20:02",2,0,"ANSWERED","DOCUMENTATION"',
]
UNIQUEIDS = ["1759302000.1", "1759302300.2", "1759302600.3", "1759302900.4", "1759303200.5"]


def uniqueid_lines() -> list[str]:
    return [f'{line},"{uid}",""' for line, uid in zip(BASE_LINES, UNIQUEIDS)]


def linkedid_lines() -> list[str]:
    return [f'{line},"{uid}","","","{uid}",{i}' for i, (line, uid) in enumerate(zip(BASE_LINES, UNIQUEIDS))]


def md5_key(*fields: str) -> str:
    """The documented stable key: source name, ':', md5 of the identifying fields joined by U+001F."""
    return "pbx:" + hashlib.md5("\x1f".join(fields).encode()).hexdigest()


HASHED_KEYS = [
    md5_key("acc1", "43316812724", "4930123456", "from-internal", "SIP/100-00000001", "SIP/trunk-00000002", "2026-10-01 09:00:00", "2026-10-01 09:00:05", "2026-10-01 09:01:05", "65", "60", "ANSWERED"),
    md5_key("acc1", "4331681272420", "4366412345", "from-internal", "SIP/101-00000003", "", "2026-10-01 09:05:00", "", "2026-10-01 09:05:20", "20", "0", "NO ANSWER"),
    md5_key("acc1", "43316812724", "4930123499", "from-internal", "SIP/100-00000004", "SIP/trunk-00000005", "2026-10-01 09:10:00", "", "2026-10-01 09:10:03", "3", "0", "BUSY"),
    md5_key("acc1", "43316812724", "0049301234", "from-internal", "SIP/100-00000006", "", "2026-10-01 09:15:00", "", "2026-10-01 09:15:00", "0", "0", "FAILED"),
    md5_key("acc1", "4331681555", "4930123401", "from-internal", "SIP/102-00000007", "SIP/trunk-00000008", "2026-10-01 09:20:00", "2026-10-01 09:20:02", "2026-10-01 09:20:02", "2", "0", "ANSWERED"),
]

# Answered calls start when answered, the others when they started (Vienna is UTC+2 in October).
EXPECTED = {
    "source_line": [1, 2, 3, 4, 5],
    "subscriber_id": ["43316812724", "4331681272420", "43316812724", "43316812724", "4331681555"],
    "counterparty": ["4930123456", "4366412345", "4930123499", "0049301234", "4930123401"],
    "start_time": [
        datetime(2026, 10, 1, 7, 0, 5, tzinfo=UTC),
        datetime(2026, 10, 1, 7, 5, 0, tzinfo=UTC),
        datetime(2026, 10, 1, 7, 10, 0, tzinfo=UTC),
        datetime(2026, 10, 1, 7, 15, 0, tzinfo=UTC),
        datetime(2026, 10, 1, 7, 20, 2, tzinfo=UTC),
    ],
    "duration_s": [60, 0, 0, 0, 0],
    # only ANSWERED with billsec > 0 is billable; NO ANSWER, BUSY, FAILED and a 0 s answer are kept, not billable
    "billable": [True, False, False, False, False],
}


def write(tmp_path, lines: list[str], name: str = "Master.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expected_usage(keys: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_key": keys,
            "source": ["pbx"] * 5,
            "source_file": ["Master.csv"] * 5,
            "source_line": EXPECTED["source_line"],
            "id_type": ["phone"] * 5,
            "subscriber_id": EXPECTED["subscriber_id"],
            "counterparty": EXPECTED["counterparty"],
            "start_time": EXPECTED["start_time"],
            "duration_s": EXPECTED["duration_s"],
            "volume_bytes": [None] * 5,
            "article_key": ["voice"] * 5,
            "billable": EXPECTED["billable"],
        },
        schema=USAGE_POLARS,
    )


@pytest.mark.parametrize(
    ("lines", "variant", "keys"),
    [
        (BASE_LINES, "auto", HASHED_KEYS),
        (BASE_LINES, "base", HASHED_KEYS),
        (uniqueid_lines(), "auto", [f"pbx:{u}" for u in UNIQUEIDS]),
        (uniqueid_lines(), "uniqueid", [f"pbx:{u}" for u in UNIQUEIDS]),
        # from Asterisk 12: uniqueid and sequence (one channel writes several records when it forwards)
        (linkedid_lines(), "auto", [f"pbx:{u}:{i}" for i, u in enumerate(UNIQUEIDS)]),
        (linkedid_lines(), "linkedid", [f"pbx:{u}:{i}" for i, u in enumerate(UNIQUEIDS)]),
    ],
    ids=["16-auto", "16-base", "18-auto", "18-uniqueid", "21-auto", "21-linkedid"],
)
def test_each_column_variant_reads_to_the_same_calls(tmp_path, lines, variant, keys):
    source = Source(name="pbx", format="asterisk", pattern="*", timezone="Europe/Vienna", asterisk_variant=variant)
    result = read_usage_file(write(tmp_path, lines), source)
    assert_frame_equal(result.usage, expected_usage(keys))
    assert result.rejects.height == 0
    UsageRecord.validate(result.usage)


def test_two_records_of_one_forwarded_channel_are_two_calls(tmp_path):
    """Asterisk 12+ writes one record per leg of a channel that dials, forwards or is transferred:
    the same uniqueid and linkedid, sequence 0 and 1. Both are calls; neither is a duplicate."""
    leg = '"acc1","43316812724","{dst}","ctx","Alice","SIP/100-1","SIP/trunk-{n}","Dial","x","2026-10-01 09:0{m}:00","2026-10-01 09:0{m}:05","2026-10-01 09:0{m}:59",59,54,"ANSWERED","DOCUMENTATION","1759302000.1","","","1759302000.1",{seq}'
    lines = [leg.format(dst="4930123456", n=2, m=0, seq=0), leg.format(dst="4930123499", n=3, m=2, seq=1)]
    result = read_usage_file(write(tmp_path, lines), VIENNA)
    assert result.usage.select("record_key", "counterparty").rows() == [
        ("pbx:1759302000.1:0", "4930123456"), ("pbx:1759302000.1:1", "4930123499"),
    ]  # fmt: skip


def test_quoting_inside_quoted_fields_is_undone(tmp_path):
    line = '"","43316812724","4930123456","ctx","""O\'Brien, ""Bob"""" <43316812724>","SIP/1","","Dial","a,b,""c""","2026-10-01 09:00:00","2026-10-01 09:00:01","2026-10-01 09:00:11",11,10,"ANSWERED","DOCUMENTATION","id-1",""'
    result = read_usage_file(write(tmp_path, [line]), VIENNA)
    assert result.usage.select("record_key", "subscriber_id", "duration_s").rows() == [("pbx:id-1", "43316812724", 10)]
    assert result.rejects.height == 0


def test_a_uniqueid_left_empty_falls_back_to_the_hash(tmp_path):
    lines = uniqueid_lines()
    lines[1] = lines[1].replace(f'"{UNIQUEIDS[1]}"', '""')
    result = read_usage_file(write(tmp_path, lines), VIENNA)
    assert result.usage["record_key"].to_list() == [f"pbx:{UNIQUEIDS[0]}", HASHED_KEYS[1], *[f"pbx:{u}" for u in UNIQUEIDS[2:]]]


def test_records_of_one_channel_without_a_sequence_are_two_calls(tmp_path):
    """The 18-column variant has the uniqueid but not the sequence: Asterisk 12+ writes one record
    per dial of a channel under the same uniqueid. An unanswered dial and the answered 30 minutes
    after it are two calls; the answered one was taken for a duplicate of the first and lost. The
    first keeps the key it always had (a file read before is not rated again after the change);
    the second gets the hash of its fields after the uniqueid; a line repeated is a duplicate."""
    leg = '"graz","43316812724","{dst}","from-internal","A","SIP/724-00000001","SIP/trunk","Dial","x","{start}","{answer}","{end}",{duration},{billsec},"{disposition}","DOCUMENTATION","1790841731.7",""'
    lines = [
        leg.format(dst="4930111", start="2026-10-01 08:00:00", answer="", end="2026-10-01 08:00:20", duration=20, billsec=0, disposition="NO ANSWER"),
        leg.format(dst="4930222", start="2026-10-01 08:00:20", answer="2026-10-01 08:00:25", end="2026-10-01 08:30:25", duration=1805, billsec=1800, disposition="ANSWERED"),
    ]  # fmt: skip
    result = read_usage_file(write(tmp_path, [*lines, lines[1]]), VIENNA)
    second = ("graz", "43316812724", "4930222", "from-internal", "SIP/724-00000001", "SIP/trunk", "2026-10-01 08:00:20", "2026-10-01 08:00:25", "2026-10-01 08:30:25", "1805", "1800", "ANSWERED")  # fmt: skip
    assert result.usage.select("record_key", "counterparty", "duration_s", "billable").rows() == [
        ("pbx:1790841731.7", "4930111", 0, False),
        ("pbx:1790841731.7:" + md5_key(*second).removeprefix("pbx:"), "4930222", 1800, True),
        ("pbx:1790841731.7:" + md5_key(*second).removeprefix("pbx:"), "4930222", 1800, True),  # the same line again
    ]


GOOD = BASE_LINES[0]
MALFORMED = [
    GOOD,  # 1
    GOOD.rsplit(",", 1)[0],  # 2: 15 fields
    GOOD + ',"extra"',  # 3: 17 fields
    GOOD.replace('"2026-10-01 09:00:00"', '"2026-13-01 09:00:00"'),  # 4: no such month
    GOOD.replace(",65,60,", ",65,sixty,"),  # 5: billsec not a number
    GOOD.replace('"43316812724","4930123456"', '"","4930123456"'),  # 6: no A-number
    GOOD.replace('"Dial"', '"Dial'),  # 7: a quote never closed
    "",  # 8: blank, skipped
    GOOD.replace(",65,60,", ",65,-5,"),  # 9: negative billsec
    GOOD.replace(",65,60,", ",65,60000000,"),  # 10: longer than a week
    BASE_LINES[1],  # 11
]
RULE_START = "timestamp %Y-%m-%d %H:%M:%S in Europe/Vienna from 2000-01-01 until 2100-01-01"
EXPECTED_REJECTS = {
    "source_line": [2, 3, 4, 5, 6, 7, 9, 10],
    "column": ["(row)", "(row)", "start", "billsec", "src", "(row)", "billsec", "billsec"],
    "value": ["15", "17", "2026-13-01 09:00:00", "sixty", "", None, "-5", "60000000"],
    "rule": [
        "column count 16 (base variant)",
        "column count 16 (base variant)",
        RULE_START,
        "integer 0..604800",
        "required",
        "quoting",
        "integer 0..604800",
        "integer 0..604800",
    ],
    "reason": [
        "Master.csv line 2: 15 fields, breaks rule column count 16 (base variant)",
        "Master.csv line 3: 17 fields, breaks rule column count 16 (base variant)",
        f"Master.csv line 4: column start value '2026-13-01 09:00:00' breaks rule {RULE_START}",
        "Master.csv line 5: column billsec value 'sixty' breaks rule integer 0..604800",
        "Master.csv line 6: column src value '' breaks rule required",
        "Master.csv line 7: odd number of double quotes: a quoted field is not closed",
        "Master.csv line 9: column billsec value '-5' breaks rule integer 0..604800",
        "Master.csv line 10: column billsec value '60000000' breaks rule integer 0..604800",
    ],
}


def test_malformed_rows_become_rejects_and_the_rest_is_read(tmp_path):
    result = read_usage_file(write(tmp_path, MALFORMED), VIENNA)
    assert result.usage["source_line"].to_list() == [1, 11]
    assert_frame_equal(
        result.rejects.select("source_line", "column", "value", "rule", "reason"),
        pl.DataFrame(EXPECTED_REJECTS, schema={"source_line": pl.Int64, "column": pl.String, "value": pl.String, "rule": pl.String, "reason": pl.String}),
    )
    assert result.rejects["source_file"].unique().to_list() == ["Master.csv"]
    assert result.rejects["raw"].to_list() == [MALFORMED[i - 1] for i in EXPECTED_REJECTS["source_line"]]
    assert result.rejected_records == 8


def test_cells_and_rows_fail_alike_whether_or_not_the_file_is_well_quoted(tmp_path):
    """A broken quote sends the whole file down the line-by-line path; the outcome must not change."""
    clean = [line for line in MALFORMED if line != MALFORMED[6]]
    fast = read_usage_file(write(tmp_path, clean, "a.csv"), VIENNA)
    slow = read_usage_file(write(tmp_path, [*clean, GOOD.replace('"Dial"', '"Dial')], "a.csv"), VIENNA)
    assert_frame_equal(fast.usage, slow.usage)
    assert_frame_equal(fast.rejects, slow.rejects.filter(pl.col("rule") != "quoting"))


@pytest.mark.parametrize(
    "broken",
    [GOOD.replace('"Dial"', '"Dial'), GOOD.replace('"Dial"', 'Di"al'), GOOD.replace('"Dial"', '"Di"al"')],
    ids=["unclosed", "inside-unquoted-field", "undoubled-inside-quoted-field"],
)
def test_a_line_with_an_odd_number_of_quotes_is_rejected_whole(tmp_path, broken):
    result = read_usage_file(write(tmp_path, [GOOD, broken, BASE_LINES[1]]), VIENNA)
    assert result.usage["source_line"].to_list() == [1, 3]
    assert result.rejects.select("source_line", "column", "rule", "raw").rows() == [(2, "(row)", "quoting", broken)]


@pytest.mark.parametrize(
    "misquoted",
    [
        GOOD.replace('"from-internal"', '"from-internal"x'),
        GOOD.replace('"Dial"', '"Dial" '),
        GOOD.replace('"""Alice, Smith"" <43316812724>"', '""Alice, Smith""'),
    ],
    ids=["text-after-closing-quote", "blank-after-closing-quote", "undoubled-quotes-around-field"],
)
def test_a_line_with_text_after_a_closing_quote_is_rejected_whole(tmp_path, misquoted):
    """Polars cannot parse such a line at all; it alone is a reject, the others are read as in a
    clean file (line 3's `""4366412345""` too, which Polars reads as 4366412345)."""
    odd_but_read = BASE_LINES[1].replace('"4366412345"', '""4366412345""')
    result = read_usage_file(write(tmp_path, [GOOD, misquoted, odd_but_read]), VIENNA)
    assert result.usage.select("source_line", "counterparty").rows() == [(1, "4930123456"), (3, "4366412345")]
    assert result.rejects.select("source_line", "column", "value", "rule", "reason", "raw").rows() == [
        (2, "(row)", None, "quoting", "Master.csv line 2: text after the closing quote of a quoted field", misquoted),
    ]


@pytest.mark.parametrize(
    ("zone", "start", "answer", "expected"),
    [
        ("UTC", "2026-10-25 02:30:00", "", datetime(2026, 10, 25, 2, 30, tzinfo=UTC)),
        ("Europe/Vienna", "2026-07-01 12:00:00", "2026-07-01 12:00:07", datetime(2026, 7, 1, 10, 0, 7, tzinfo=UTC)),
        ("Europe/Vienna", "2026-12-01 12:00:00", "", datetime(2026, 12, 1, 11, 0, tzinfo=UTC)),
        # the autumn hour 02:00-03:00 happens twice: the earlier (summer time) instant is taken
        ("Europe/Vienna", "2026-10-25 02:30:00", "", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("Europe/Vienna", "2026-10-25 03:30:00", "", datetime(2026, 10, 25, 2, 30, tzinfo=UTC)),
        ("Europe/Vienna", "2026-03-29 01:59:59", "2026-03-29 03:00:01", datetime(2026, 3, 29, 1, 0, 1, tzinfo=UTC)),
        ("America/New_York", "2026-11-01 01:30:00", "", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_local_times_become_utc(tmp_path, zone, start, answer, expected):
    answer_field = f'"{answer}"' if answer else ""
    disposition = "ANSWERED" if answer else "NO ANSWER"
    line = f'"","4331681","43","ctx","","SIP/1","","Dial","","{start}",{answer_field},"{start}",10,{5 if answer else 0},"{disposition}","DOCUMENTATION"'
    source = Source(name="pbx", format="asterisk", pattern="*", timezone=zone)
    result = read_usage_file(write(tmp_path, [line]), source)
    assert result.usage["start_time"].to_list() == [expected]


def test_a_wall_clock_time_skipped_by_the_spring_change_is_rejected(tmp_path):
    line = '"","4331681","43","ctx","","SIP/1","","Dial","","2026-03-29 02:30:00",,"2026-03-29 03:30:10",10,0,"NO ANSWER","DOCUMENTATION"'
    result = read_usage_file(write(tmp_path, [line]), VIENNA)
    assert result.usage.height == 0
    assert result.rejects.select("source_line", "column", "value").rows() == [(1, "start", "2026-03-29 02:30:00")]


@pytest.mark.parametrize(
    ("lines", "variant", "message"),
    [
        (['"a","b","c"'] * 3, "auto", "not an Asterisk Master.csv: its first lines have 3 fields, expected 16 or 18 or 21"),
        (BASE_LINES, "linkedid", "no line has the 21 fields of an Asterisk Master.csv (linkedid variant)"),
        (
            ['"Alice","43316812724","49301","default","2026-10-01 09:00:00","","2026-10-01 09:00:05","5","0","NO_ANSWER","u-1","",""'],
            "auto",
            "its first lines have 13 fields",
        ),
    ],
    ids=["three-columns", "configured-variant-never-matches", "freeswitch-file"],
)
def test_a_file_in_another_format_is_unreadable(tmp_path, lines, variant, message):
    source = Source(name="pbx", format="asterisk", pattern="*", asterisk_variant=variant)
    with pytest.raises(UnreadableFile, match=re.escape(message)) as caught:
        read_usage_file(write(tmp_path, lines), source)
    assert caught.value.path.name == "Master.csv"


def test_reject_columns_are_the_stored_rejects_without_run_id(tmp_path):
    result = read_usage_file(write(tmp_path, MALFORMED), VIENNA)
    assert result.rejects.columns == [f.name for f in REJECTS if f.name != "run_id"]
    assert result.usage.schema == USAGE_POLARS


def test_a_configured_article_key_with_a_nul_character_rejects_every_call(tmp_path):
    """The fields are checked as they are read; the source's own text where it holds a NUL."""
    result = read_usage_file(write(tmp_path, BASE_LINES[:1]), replace(VIENNA, article_key="voice\x00"))
    assert result.usage.height == 0
    assert result.rejects.select("source_line", "column", "value", "rule").rows() == [(1, "article_key", "voice\\x00", "text without NUL characters")]


def test_a_nul_character_past_the_binary_check_rejects_its_call_naming_the_field(tmp_path):
    """Only the first 64 KiB are checked for binary content; a NUL further in rejects its own line,
    named by the file's column, with the line's text (NUL shown as \\x00)."""
    filler = BASE_LINES * 60  # 60 × 5 lines of about 250 bytes: past 64 KiB
    bad = BASE_LINES[0].replace('"43316812724"', '"4331681\x002724"', 1)
    path = tmp_path / "Master.csv"
    path.write_bytes("\n".join([*filler, bad, BASE_LINES[1]]).encode() + b"\n")
    assert path.stat().st_size > 65536
    result = read_usage_file(path, VIENNA)
    assert result.usage.height == len(filler) + 1
    line = len(filler) + 1
    assert result.rejects.select("source_line", "column", "value", "rule").rows() == [(line, "src", "4331681\\x002724", "text without NUL characters")]
    assert result.rejects.get_column("raw").to_list() == [bad.replace("\x00", "\\x00")]


@pytest.mark.parametrize(
    ("lines", "bad", "column", "value"),
    [
        (uniqueid_lines(), uniqueid_lines()[0].replace('"1759302000.1"', '"1759302000\x00.1"'), "uniqueid", "1759302000\\x00.1"),
        (linkedid_lines(), linkedid_lines()[0].removesuffix(",0") + ",0\x00", "sequence", "0\\x00"),
    ],
    ids=["uniqueid", "sequence"],
)
def test_a_nul_character_in_the_own_id_rejects_its_call_naming_the_field(tmp_path, lines, bad, column, value):
    """The record key is made of these fields as written: the reject names the field, not record_key, and shows the line."""
    filler = lines * 60  # past the 64 KiB checked for binary content
    path = tmp_path / "Master.csv"
    path.write_bytes("\n".join([*filler, bad, lines[1]]).encode() + b"\n")
    result = read_usage_file(path, VIENNA)
    line = len(filler) + 1
    assert result.usage.height == len(filler) + 1
    assert result.rejects.select("source_line", "column", "value", "rule", "raw").rows() == [
        (line, column, value, "text without NUL characters", bad.replace("\x00", "\\x00")),
    ]
