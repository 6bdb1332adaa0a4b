"""FreeSWITCH mod_cdr_csv: the built-in default template and the "example" template."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.io.readers import Source, UnreadableFile, read_usage_file
from schemas.usage import USAGE_POLARS, UsageRecord

UTC = timezone.utc

# caller_id_name, caller_id_number, destination_number, context, start_stamp, answer_stamp, end_stamp,
# duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode: every field double-quoted.
DEFAULT_LINES = [
    '"Alice, Smith","43316812724","4930123456","default","2026-10-01 09:00:00","2026-10-01 09:00:05","2026-10-01 09:01:05","65","60","NORMAL_CLEARING","5b1c6f0e-0001-4000-8000-000000000001","5b1c6f0e-0001-4000-8000-0000000000b1","acc1"',
    '"Bob","4331681272420","4366412345","default","2026-10-01 09:05:00","","2026-10-01 09:05:20","20","0","NO_ANSWER","5b1c6f0e-0001-4000-8000-000000000002","",""',
    '"""Carl"" C","4331681555","4930123401","default","2026-10-01 09:10:00","","2026-10-01 09:10:03","3","0","USER_BUSY","5b1c6f0e-0001-4000-8000-000000000003","",""',
    # answered, then the caller hung up: not NORMAL_CLEARING, but answered with billsec > 0 bills
    '"Dora","4331681272421","4930123402","default","2026-10-01 09:15:00","2026-10-01 09:15:01","2026-10-01 09:15:31","31","30","ORIGINATOR_CANCEL","","",""',
]
EXAMPLE_LINES = [line + ',"PCMA","PCMA"' for line in DEFAULT_LINES]
KEY_4 = "fs:" + hashlib.md5(
    "\x1f".join(
        ["4331681272421", "4930123402", "default", "2026-10-01 09:15:00", "2026-10-01 09:15:01", "2026-10-01 09:15:31", "31", "30", "ORIGINATOR_CANCEL"]
    ).encode()
).hexdigest()

EXPECTED = pl.DataFrame(
    {
        "record_key": [
            "fs:5b1c6f0e-0001-4000-8000-000000000001",
            "fs:5b1c6f0e-0001-4000-8000-000000000002",
            "fs:5b1c6f0e-0001-4000-8000-000000000003",
            KEY_4,
        ],
        "source": ["fs"] * 4,
        "source_file": ["cdr.csv"] * 4,
        "source_line": [1, 2, 3, 4],
        "id_type": ["phone"] * 4,
        "subscriber_id": ["43316812724", "4331681272420", "4331681555", "4331681272421"],
        "counterparty": ["4930123456", "4366412345", "4930123401", "4930123402"],
        "start_time": [
            datetime(2026, 10, 1, 7, 0, 5, tzinfo=UTC),
            datetime(2026, 10, 1, 7, 5, 0, tzinfo=UTC),
            datetime(2026, 10, 1, 7, 10, 0, tzinfo=UTC),
            datetime(2026, 10, 1, 7, 15, 1, tzinfo=UTC),
        ],
        "duration_s": [60, 0, 0, 30],
        "volume_bytes": [None] * 4,
        "article_key": ["voice"] * 4,
        "billable": [True, False, False, True],
    },
    schema=USAGE_POLARS,
)


def write(tmp_path, lines, name="cdr.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lines", "template"),
    [(DEFAULT_LINES, "auto"), (DEFAULT_LINES, "default"), (EXAMPLE_LINES, "auto"), (EXAMPLE_LINES, "example")],
    ids=["default-auto", "default", "example-auto", "example"],
)
def test_both_templates_read_to_the_same_calls(tmp_path, lines, template):
    source = Source(name="fs", format="freeswitch", pattern="*", timezone="Europe/Berlin", freeswitch_template=template)
    result = read_usage_file(write(tmp_path, lines), source)
    assert_frame_equal(result.usage, EXPECTED)
    assert result.rejects.height == 0
    UsageRecord.validate(result.usage)


def test_the_b_leg_of_a_call_written_with_both_legs_does_not_bill(tmp_path):
    """mod_cdr_csv with legs="ab" writes the b-leg too: its uuid is the a-leg's bleg_uuid. Billing
    both would bill the call twice; the b-leg is read, non-billable."""
    b_leg = '"Alice, Smith","43316812724","4930123456","default","2026-10-01 09:00:01","2026-10-01 09:00:05","2026-10-01 09:01:05","64","60","NORMAL_CLEARING","5b1c6f0e-0001-4000-8000-0000000000b1","",""'
    result = read_usage_file(write(tmp_path, [DEFAULT_LINES[0], b_leg, DEFAULT_LINES[3]]), Source(name="fs", format="freeswitch", pattern="*"))
    assert result.usage.select("record_key", "billable").rows() == [
        ("fs:5b1c6f0e-0001-4000-8000-000000000001", True),
        ("fs:5b1c6f0e-0001-4000-8000-0000000000b1", False),
        (KEY_4, True),
    ]


@pytest.mark.parametrize(
    ("line", "column", "value", "rule"),
    [
        (DEFAULT_LINES[0].replace('"60","NORMAL', '"6O","NORMAL'), "billsec", "6O", "integer 0..604800"),
        (DEFAULT_LINES[0].replace('"2026-10-01 09:00:05"', '"01.10.2026 09:00:05"'), "answer_stamp", "01.10.2026 09:00:05", "timestamp %Y-%m-%d %H:%M:%S in Europe/Berlin from 2000-01-01 until 2100-01-01"),
        (DEFAULT_LINES[0].replace('"43316812724"', '" "'), "caller_id_number", " ", "required"),
        (DEFAULT_LINES[0] + ',"PCMA","PCMA"', "(row)", "15", "column count 13 (default template)"),
    ],
    ids=["billsec", "answer_stamp", "caller", "example-line-in-default-file"],
)
def test_malformed_rows_are_rejected(tmp_path, line, column, value, rule):
    result = read_usage_file(write(tmp_path, [DEFAULT_LINES[1], line, DEFAULT_LINES[2]]), Source(name="fs", format="freeswitch", pattern="*", timezone="Europe/Berlin"))
    assert result.usage["source_line"].to_list() == [1, 3]
    assert result.rejects.select("source_line", "column", "value", "rule").rows() == [(2, column, value, rule)]


def test_an_asterisk_file_is_not_a_freeswitch_file(tmp_path):
    asterisk = '"acc1","43316812724","4930123456","from-internal","x","SIP/1","","Dial","","2026-10-01 09:00:00",,"2026-10-01 09:00:05",5,0,"NO ANSWER","DOCUMENTATION"'
    with pytest.raises(UnreadableFile, match="not a FreeSWITCH cdr-csv file: its first lines have 16 fields, expected 13 or 15"):
        read_usage_file(write(tmp_path, [asterisk]), Source(name="fs", format="freeswitch", pattern="*"))


def test_a_caller_name_with_bare_quotes_around_it_is_rejected_alone(tmp_path):
    """FreeSWITCH writes `""Doe, John""` for a name held in quotes: that line is a reject, not the file."""
    misquoted = DEFAULT_LINES[1].replace('"Bob"', '""Doe, John""')
    result = read_usage_file(write(tmp_path, [DEFAULT_LINES[0], misquoted, DEFAULT_LINES[2]]), Source(name="fs", format="freeswitch", pattern="*", timezone="Europe/Berlin"))
    assert result.usage.select("source_line", "record_key").rows() == [
        (1, "fs:5b1c6f0e-0001-4000-8000-000000000001"), (3, "fs:5b1c6f0e-0001-4000-8000-000000000003"),
    ]  # fmt: skip
    assert result.rejects.select("source_line", "column", "value", "rule", "reason", "raw").rows() == [
        (2, "(row)", None, "quoting", "cdr.csv line 2: text after the closing quote of a quoted field", misquoted),
    ]


def test_a_nul_character_in_the_uuid_rejects_its_leg_naming_the_field(tmp_path):
    filler = DEFAULT_LINES * 100  # past the 64 KiB checked for binary content
    bad = DEFAULT_LINES[0].replace('"5b1c6f0e-0001-4000-8000-000000000001"', '"5b1c6f0e\x00"')
    path = tmp_path / "cdr.csv"
    path.write_bytes("\n".join([*filler, bad]).encode() + b"\n")
    assert path.stat().st_size - len(bad) > 65536
    result = read_usage_file(path, Source(name="fs", format="freeswitch", pattern="*", timezone="Europe/Berlin"))
    assert result.usage.height == len(filler)
    assert result.rejects.select("source_line", "column", "value", "rule", "raw").rows() == [
        (len(filler) + 1, "uuid", "5b1c6f0e\\x00", "text without NUL characters", bad.replace("\x00", "\\x00")),
    ]
