"""Generic CSV (through a column mapping) and Parquet files with canonical columns."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from pipeline.io.readers import Source, UnreadableFile, read_usage_file
from schemas.usage import USAGE_POLARS, UsageRecord

UTC = timezone.utc
PARTNER = Source(
    name="partner",
    format="csv",
    pattern="partner-*.csv*",
    timezone="Europe/Vienna",
    delimiter=";",
    timestamp_format="%d.%m.%Y %H:%M:%S",
    columns={"subscriber_id": "A-Nummer", "counterparty": "B-Nummer", "start_time": "Beginn", "duration_s": "Dauer", "record_key": "Satz"},
)
PARTNER_LINES = [
    "Satz;A-Nummer;B-Nummer;Beginn;Dauer;Bemerkung",
    'R1;43316812724;4930123456;01.10.2026 09:00:00;60;"Anruf; intern"',
    "R2;4331681272420;4366412345;25.10.2026 02:30:00;5;",
    ";4331681555;4930123401;01.10.2026 10:00:00;0;ohne Satznummer",
]
PARTNER_EXPECTED = pl.DataFrame(
    {
        "record_key": [
            "partner:R1",
            "partner:R2",
            "partner:" + hashlib.md5("\x1f".join(["4331681555", "4930123401", "01.10.2026 10:00:00", "0"]).encode()).hexdigest(),
        ],
        "source": ["partner"] * 3,
        "source_file": ["partner-2026-10.csv"] * 3,
        "source_line": [2, 3, 4],
        "id_type": ["phone"] * 3,
        "subscriber_id": ["43316812724", "4331681272420", "4331681555"],
        "counterparty": ["4930123456", "4366412345", "4930123401"],
        "start_time": [datetime(2026, 10, 1, 7, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 1, 8, tzinfo=UTC)],
        "duration_s": [60, 5, 0],
        "volume_bytes": [None] * 3,
        "article_key": ["voice"] * 3,
        "billable": [True] * 3,
    },
    schema=USAGE_POLARS,
)


def write(tmp_path, lines, name):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "byte-order-mark"])
def test_a_mapped_csv_reads_through_its_column_names(tmp_path, bom):
    lines = [bom + PARTNER_LINES[0], *PARTNER_LINES[1:]]
    result = read_usage_file(write(tmp_path, lines, "partner-2026-10.csv"), PARTNER)
    assert_frame_equal(result.usage, PARTNER_EXPECTED)
    assert result.rejects.height == 0
    UsageRecord.validate(result.usage)


CANONICAL_HEADER = "record_key,id_type,subscriber_id,counterparty,start_time,duration_s,volume_bytes,article_key,billable"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("k1,phone,43316812724,4930123456,2026-10-01 09:00:00,60,,,", ("csv:k1", "phone", 60, None, "voice", True)),
        ("k2,ipv4,167.112.17.42,,2026-10-01 09:00:00,,1048576,data,true", ("csv:k2", "ipv4", None, 1048576, "data", True)),
        ("k3,,43316812724,,2026-10-01 09:00:00,12,,,no", ("csv:k3", "phone", 12, None, "voice", False)),
    ],
    ids=["voice", "data", "defaults-and-not-billable"],
)
def test_the_default_mapping_is_the_canonical_names(tmp_path, row, expected):
    source = Source(name="csv", format="csv", pattern="*")
    result = read_usage_file(write(tmp_path, [CANONICAL_HEADER, row], "usage.csv"), source)
    assert result.usage.select("record_key", "id_type", "duration_s", "volume_bytes", "article_key", "billable").rows() == [expected]


@pytest.mark.parametrize(
    ("row", "column", "value", "rule"),
    [
        ("k1,phone,43316812724,,2026-10-01 09:00:00,,,,", "duration_s/volume_bytes", "", "duration_s or volume_bytes required"),
        ("k1,fax,43316812724,,2026-10-01 09:00:00,1,,,", "id_type", "fax", "one of ipv4, ipv6, mac, phone, string"),
        ("k1,phone,43316812724,,2026-10-01T09:00:00,1,,,", "start_time", "2026-10-01T09:00:00", "timestamp %Y-%m-%d %H:%M:%S from 2000-01-01 until 2100-01-01"),
        ("k1,phone,43316812724,,1999-12-31 23:59:59,1,,,", "start_time", "1999-12-31 23:59:59", "timestamp %Y-%m-%d %H:%M:%S from 2000-01-01 until 2100-01-01"),
        ("k1,phone,43316812724,,2026-10-01 09:00:00,1,,,maybe", "billable", "maybe", "boolean (true/false)"),
        ("k1,phone,43316812724,,2026-10-01 09:00:00,1.5,,,", "duration_s", "1.5", "integer 0..604800"),
        ("k1,phone,43316812724,,2026-10-01 09:00:00,,-1,,", "volume_bytes", "-1", "integer 0..1000000000000000"),
        ("k1,phone,43316812724,,2026-10-01 09:00:00,,4611686018427387904,,", "volume_bytes", "4611686018427387904", "integer 0..1000000000000000"),
        ("k1,phone,43316812724,,2026-10-01 09:00:00,1,,", "(row)", "8", "column count 9 (header)"),
    ],
    ids=["no-quantity", "id-type", "iso-t", "before-2000", "billable", "fraction", "negative-volume", "volume-over-1-PB", "short"],
)
def test_bad_csv_rows_are_rejected(tmp_path, row, column, value, rule):
    good = "k0,phone,43316812724,,2026-10-01 09:00:00,1,,,"
    result = read_usage_file(write(tmp_path, [CANONICAL_HEADER, good, row, good.replace("k0", "k9")], "usage.csv"), Source(name="csv", format="csv", pattern="*"))
    assert result.usage["source_line"].to_list() == [2, 4]
    assert result.rejects.select("source_line", "column", "value", "rule").rows() == [(3, column, value, rule)]


NOTED_HEADER = "record_key,subscriber_id,start_time,duration_s,note"


@pytest.mark.parametrize(
    ("lines", "read", "rejected"),
    [
        # RFC 4180: a quoted field may hold a line break; the record is one, numbered by its first line
        (['k1,43316812724,2026-10-01 09:00:00,60,"first', 'second"', "k2,43316812724,2026-10-01 09:01:00,61,x"], [("csv:k1", 2), ("csv:k2", 4)], []),
        (['k1,43316812724,2026-10-01 09:00:00,60,"a', "", 'b, and c"', "k2,43316812724,2026-10-01 09:01:00,61,x"], [("csv:k1", 2), ("csv:k2", 5)], []),
        # a stray quote does not swallow the lines after it: only its own line is rejected
        (['k1,43316812724,2026-10-01 09:00:00,60,"oops', "k2,43316812724,2026-10-01 09:01:00,61,x", "k3,43316812724,2026-10-01 09:02:00,62,y"],
         [("csv:k2", 3), ("csv:k3", 4)], [(2, "quoting")]),
        # …nor do two stray quotes the lines between them
        (['k1,43316812724,2026-10-01 09:00:00,60,"oops', "k2,43316812724,2026-10-01 09:01:00,61,x", 'k3,43316812724,2026-10-01 09:02:00,62,"oops'],
         [("csv:k2", 3)], [(2, "quoting"), (4, "quoting")]),
    ],
    ids=["two-lines", "with-a-blank-line", "stray-quote", "two-stray-quotes"],
)
def test_a_quoted_field_may_span_lines(tmp_path, lines, read, rejected):
    result = read_usage_file(write(tmp_path, [NOTED_HEADER, *lines], "usage.csv"), Source(name="csv", format="csv", pattern="*"))
    assert result.usage.select("record_key", "source_line").rows() == read
    assert result.rejects.select("source_line", "rule").rows() == rejected


@pytest.mark.parametrize(
    ("lines", "read", "rejected"),
    [
        (["431;2026-10-01 08:00:00;60", '"432" ;2026-10-01 09:00:00;61', "433;2026-10-01 10:00:00;62"],
         [("431", 2), ("433", 4)], [(3, '"432" ;2026-10-01 09:00:00;61')]),
        # a line Polars reads though it is not strict RFC 4180 (a quote inside an unquoted field) is still read
        (["431;2026-10-01 08:00:00;60", '"432"x;2026-10-01 09:00:00;61', 'a"3"3;2026-10-01 10:00:00;62'],
         [("431", 2), ('a"3"3', 4)], [(3, '"432"x;2026-10-01 09:00:00;61')]),
    ],
    ids=["blank-after-quote", "text-after-quote"],
)
def test_a_line_with_text_after_a_closing_quote_is_rejected_alone(tmp_path, lines, read, rejected):
    path = write(tmp_path, ["subscriber_id;start_time;duration_s", *lines], "partner.csv")
    result = read_usage_file(path, Source(name="p", format="csv", pattern="*", delimiter=";"))
    assert result.usage.select("subscriber_id", "source_line").rows() == read
    assert result.rejects.select("source_line", "column", "rule", "reason", "raw").rows() == [
        (line, "(row)", "quoting", f"partner.csv line {line}: text after the closing quote of a quoted field", raw) for line, raw in rejected
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Satz;A-Nummer;Beginn;Dauer", "missing columns B-Nummer"),
        ("Satz;A-Nummer;B-Nummer;Dauer", "missing columns Beginn"),
        ("Satz;A-Nummer;B-Nummer;Beginn", r"missing columns Dauer \(the file has: Satz, A-Nummer, B-Nummer, Beginn\)"),
    ],
)
def test_a_csv_without_a_needed_column_is_unreadable(tmp_path, header, message):
    with pytest.raises(UnreadableFile, match=message):
        read_usage_file(write(tmp_path, [header, "x;y;z;w"], "partner-1.csv"), PARTNER)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # classic Mac OS line ends (CR only): the whole file is one line, not a header and its records
        (b"Satz;A-Nummer;B-Nummer;Beginn;Dauer\rR1;43316812724;4930123456;01.10.2026 09:00:00;60\r",
         "lines end in a carriage return alone"),
        (b"Satz;A-Nummer;B-Nummer;Beginn;Dauer\rR1\n", "lines end in a carriage return alone"),
    ],
    ids=["cr-line-ends", "cr-in-header"],
)
def test_a_csv_whose_header_cannot_be_split_is_unreadable(tmp_path, content, message):
    """read_usage_file refuses a file it cannot read with UnreadableFile (it raised csv.Error)."""
    (tmp_path / "partner-1.csv").write_bytes(content)
    with pytest.raises(UnreadableFile, match=message):
        read_usage_file(tmp_path / "partner-1.csv", PARTNER)


PARQUET_ROWS = {
    "subscriber_id": ["43316812724", "167.112.17.42", "4331681555"],
    "id_type": ["phone", "ipv4", "phone"],
    "duration_s": [60, None, -3],
    "volume_bytes": [None, 2_000_000_000, None],
    "article_key": [None, "data", None],
}


@pytest.mark.parametrize(
    ("start", "expected_start"),
    [
        (pl.Series([datetime(2026, 10, 1, 9), datetime(2026, 10, 1, 9, 5), datetime(2026, 10, 1, 9, 10)]), datetime(2026, 10, 1, 7, tzinfo=UTC)),
        (
            pl.Series([datetime(2026, 10, 1, 9), datetime(2026, 10, 1, 9, 5), datetime(2026, 10, 1, 9, 10)]).dt.replace_time_zone("Asia/Tokyo"),
            datetime(2026, 10, 1, 0, tzinfo=UTC),
        ),
        (pl.Series(["2026-10-01 09:00:00", "2026-10-01 09:05:00", "2026-10-01 09:10:00"]), datetime(2026, 10, 1, 7, tzinfo=UTC)),
    ],
    ids=["naive-local", "with-zone", "text"],
)
def test_parquet_columns_are_checked_like_text(tmp_path, start, expected_start):
    path = tmp_path / "usage.parquet"
    pl.DataFrame({**PARQUET_ROWS, "start_time": start}).write_parquet(path)
    result = read_usage_file(path, Source(name="pq", format="parquet", pattern="*.parquet", timezone="Europe/Vienna"))
    assert result.usage.select("source_line", "subscriber_id", "id_type", "duration_s", "volume_bytes", "article_key").rows() == [
        (1, "43316812724", "phone", 60, None, "voice"),
        (2, "167.112.17.42", "ipv4", None, 2_000_000_000, "data"),
    ]
    assert result.usage["start_time"][0] == expected_start
    # no record_key column: the key hashes the identifying columns the file has (no counterparty here)
    identity = ["43316812724", result_start_text(start), "60", "", ""]
    assert result.usage["record_key"][0] == "pq:" + hashlib.md5("\x1f".join(identity).encode()).hexdigest()
    assert result.rejects.select("source_line", "column", "value", "rule", "raw").rows() == [(3, "duration_s", "-3", "integer 0..604800", None)]
    UsageRecord.validate(result.usage)


@pytest.mark.parametrize(
    ("duration", "value"),
    [
        (pl.Series([60.0]), None),
        (pl.Series([1.5]), "1.5"),
        (pl.Series([1e19]), "1e+19"),  # a whole float beyond 64 bits is refused by its own value
        (pl.Series([Decimal("60.00")], dtype=pl.Decimal(10, 2)), None),
        (pl.Series([Decimal("1.50")], dtype=pl.Decimal(10, 2)), "1.5"),
        (pl.Series([timedelta(minutes=1)]), None),
        (pl.Series([timedelta(seconds=1.5)]), "1.5"),
        (pl.Series([timedelta(days=-1)]), "-86400"),
    ],
    ids=["float-whole", "float-fraction", "float-beyond-64-bits", "decimal-whole", "decimal-fraction", "duration-whole", "duration-fraction", "duration-negative"],
)
def test_a_typed_duration_in_parquet_is_read_as_its_value(tmp_path, duration, value):
    path = tmp_path / "usage.parquet"
    pl.DataFrame({"subscriber_id": ["43316812724"], "start_time": [datetime(2026, 10, 1, 9)], "duration_s": duration}).write_parquet(path)
    result = read_usage_file(path, Source(name="pq", format="parquet", pattern="*.parquet"))
    assert result.rejects.select("value", "rule").rows() == ([] if value is None else [(value, "integer 0..604800")])
    assert result.usage["duration_s"].to_list() == ([] if value else [60])


@pytest.mark.parametrize(
    ("column", "values", "dtype"),
    [
        ("duration_s", pl.Series([[60]]), "large_list<element: int64>"),
        ("counterparty", pl.Series([{"cc": "49", "number": "30123456"}]), "struct<cc: large_string, number: large_string>"),
        ("subscriber_id", pl.Series([b"43316812724"]), "large_binary"),  # text must be written as UTF-8 strings
    ],
    ids=["list", "struct", "binary"],
)
def test_a_parquet_column_of_a_type_without_single_values_makes_the_file_unreadable(tmp_path, column, values, dtype):
    path = tmp_path / "usage.parquet"
    columns = {"subscriber_id": ["43316812724"], "start_time": [datetime(2026, 10, 1, 9)], "duration_s": [60]}
    pl.DataFrame({**columns, column: values}).write_parquet(path)
    with pytest.raises(UnreadableFile, match=rf"column {column} has type {re.escape(dtype)}, which no canonical column takes"):
        read_usage_file(path, Source(name="pq", format="parquet", pattern="*.parquet"))


@pytest.mark.parametrize("dtype", [pl.String, pl.Categorical, pl.Enum(["01.10.2026 09:00:00"])], ids=["string", "categorical", "enum"])
def test_parquet_start_times_written_as_text_use_the_sources_timestamp_format(tmp_path, dtype):
    path = tmp_path / "usage.parquet"
    start = pl.Series(["01.10.2026 09:00:00"], dtype=dtype)
    pl.DataFrame({"subscriber_id": ["43316812724"], "start_time": start, "duration_s": [60]}).write_parquet(path)
    source = Source(name="pq", format="parquet", pattern="*.parquet", timezone="Europe/Vienna", timestamp_format="%d.%m.%Y %H:%M:%S")
    result = read_usage_file(path, source)
    assert (result.usage["start_time"].to_list(), result.rejects.height) == ([datetime(2026, 10, 1, 7, tzinfo=UTC)], 0)


@pytest.mark.parametrize(
    ("start", "timestamp_format", "expected", "reject"),
    [
        # seconds since the epoch as numbers: read by the source's `%s`, as the same digits in a CSV are
        (pl.Series([1_790_841_731], dtype=pl.Int64), "%s", datetime(2026, 10, 1, 8, 2, 11, tzinfo=UTC), None),
        (pl.Series([1_790_841_731], dtype=pl.UInt32), "%s", datetime(2026, 10, 1, 8, 2, 11, tzinfo=UTC), None),
        (pl.Series([1_790_841_731.0]), "%s", datetime(2026, 10, 1, 8, 2, 11, tzinfo=UTC), None),
        (pl.Series([20_261_001_090_000], dtype=pl.Int64), "%Y%m%d%H%M%S", datetime(2026, 10, 1, 7, tzinfo=UTC), None),
        (pl.Series([1_790_841_731.5]), "%s", None, ("1790841731.5", "timestamp %s from 2000-01-01 until 2100-01-01")),
        (pl.Series([1_790_841_731], dtype=pl.Int64), "%Y-%m-%d %H:%M:%S", None,
         ("1790841731", "timestamp %Y-%m-%d %H:%M:%S in Europe/Vienna from 2000-01-01 until 2100-01-01")),
    ],
    ids=["epoch-int64", "epoch-uint32", "epoch-whole-float", "digits-int64", "epoch-fraction", "epoch-without-%s"],
)
def test_parquet_start_times_written_as_numbers_use_the_sources_timestamp_format(tmp_path, start, timestamp_format, expected, reject):
    """A numeric start time is its number's text, read by `timestamp_format` as that text in a CSV is."""
    path = tmp_path / "usage.parquet"
    pl.DataFrame({"subscriber_id": ["43316812724"], "start_time": start, "duration_s": [60]}).write_parquet(path)
    source = Source(name="pq", format="parquet", pattern="*.parquet", timezone="Europe/Vienna", timestamp_format=timestamp_format)
    result = read_usage_file(path, source)
    assert result.usage["start_time"].to_list() == ([] if expected is None else [expected])
    assert result.rejects.select("value", "rule").rows() == ([] if reject is None else [reject])


def result_start_text(start: pl.Series) -> str:
    """The text a typed start time is checked as (the documented fixed form)."""
    if start.dtype == pl.String:
        return start[0]
    value = start.dt.convert_time_zone("UTC") if start.dtype.time_zone else start
    return value.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")[0]


def test_a_parquet_file_without_canonical_columns_names_them(tmp_path):
    path = tmp_path / "usage.parquet"
    pl.DataFrame({"subscriber": ["1"], "start_time": [datetime(2026, 10, 1)]}).write_parquet(path)
    with pytest.raises(UnreadableFile, match="missing columns subscriber_id, duration_s or volume_bytes"):
        read_usage_file(path, Source(name="pq", format="parquet", pattern="*"))


def test_parquet_columns_the_source_does_not_use_are_not_read(tmp_path):
    """An unrelated column of a type Polars cannot read (decimals beyond 38 digits) must not stop the file."""
    path = tmp_path / "usage.parquet"
    amount = pa.array([Decimal("1.50")], pa.decimal256(50, 2))
    pq.write_table(pa.table({"subscriber_id": ["43316812724"], "start_time": ["2026-10-01 09:00:00"], "duration_s": [60], "amount": amount}), path)
    result = read_usage_file(path, Source(name="pq", format="parquet", pattern="*.parquet"))
    assert result.usage.select("source_line", "subscriber_id", "start_time", "duration_s").rows() == [
        (1, "43316812724", datetime(2026, 10, 1, 9, tzinfo=UTC), 60),
    ]
    assert result.rejects.height == 0


def test_a_file_that_is_not_parquet_is_unreadable(tmp_path):
    path = write(tmp_path, [CANONICAL_HEADER], "usage.parquet")
    with pytest.raises(UnreadableFile, match="not a readable Parquet file"):
        read_usage_file(path, Source(name="pq", format="parquet", pattern="*"))


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("subscriber_id", "10.9.9.9\x00x", "10.9.9.9\\x00x"),
        ("counterparty", "\x0043316", "\\x0043316"),
        ("record_key", "k\x00", "k\\x00"),  # the key as written
        ("B-Nummer", "\x0043316", "\\x0043316"),  # the file's own name of the column
    ],
)
def test_text_with_a_nul_character_rejects_its_row(tmp_path, column, value, shown):
    """PostgreSQL's text cannot hold NUL: one such value would stop every write of the run, so the row is rejected
    (the CSV readers refuse a binary file; a Parquet string, or a NUL late in a CSV, lands here)."""
    rows = {"record_key": ["k1", "k2"], "subscriber_id": ["43316812724", "43316812725"], "B-Nummer": ["4930123", "4930124"],
            "start_time": [datetime(2026, 10, 1, 9)] * 2, "duration_s": [60, 60]}  # fmt: skip
    if column != "B-Nummer":
        rows["counterparty"] = rows.pop("B-Nummer")
    rows[column] = [rows[column][0], value]
    path = tmp_path / "usage.parquet"
    pl.DataFrame(rows).write_parquet(path)
    mapping = {"counterparty": "B-Nummer"} if column == "B-Nummer" else {}
    result = read_usage_file(path, Source(name="pq", format="parquet", pattern="*.parquet", id_type="string", columns=mapping))
    assert result.usage.get_column("source_line").to_list() == [1]
    assert result.rejects.select("source_line", "column", "value", "rule").rows() == [(2, column, shown, "text without NUL characters")]
    assert "\x00" not in "".join(result.rejects.select(pl.concat_str(pl.all().cast(pl.String).fill_null(""))).to_series())


@pytest.mark.parametrize(
    ("setting", "column", "shown"),
    [
        ({"article_key": "voice\x00"}, "article_key", "voice\\x00"),
        ({"name": "p\x00q"}, "record_key", "p\\x00q:k1"),  # the key is prefixed by the source's name
    ],
)
def test_configured_text_with_a_nul_character_rejects_the_records_it_is_in(tmp_path, setting, column, shown):
    """A file's cells are checked as they are read; what the source's configuration adds (its
    name in the record keys, default article key) is checked where it holds a NUL."""
    path = tmp_path / "usage.parquet"
    pl.DataFrame({"record_key": ["k1"], "subscriber_id": ["43316812724"], "start_time": [datetime(2026, 10, 1, 9)], "duration_s": [60]}).write_parquet(path)
    result = read_usage_file(path, Source(**{"name": "pq", "format": "parquet", "pattern": "*.parquet", **setting}))
    assert result.usage.height == 0
    assert result.rejects.select("source_line", "column", "value", "rule").rows() == [(1, column, shown, "text without NUL characters")]


@pytest.mark.parametrize(
    ("zone", "cell", "expected"),
    [
        ("America/Vancouver", "2026-10-26 17:30:00", datetime(2026, 10, 27, 0, 30, tzinfo=UTC)),  # Monday, -07
        ("America/Vancouver", "2026-11-02 17:30:00", datetime(2026, 11, 3, 0, 30, tzinfo=UTC)),  # Monday, still -07 (DuckDB's data)
        ("Africa/Casablanca", "2026-12-01 12:00:00", datetime(2026, 12, 1, 12, tzinfo=UTC)),  # +00 (DuckDB's data)
        ("Europe/Vienna", "2026-10-25 02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # the repeated hour: the earlier
        ("Europe/Vienna", "2026-03-29 02:30:00", None),  # the skipped hour: a reject
    ],
)
@pytest.mark.parametrize("typed", [False, True], ids=["csv", "typed-parquet"])
def test_local_times_are_read_with_the_zone_data_of_bands_and_billing(tmp_path, zone, cell, expected, typed):
    """A source's wall-clock times become UTC by DuckDB's zone data, the one bands, billing days and
    service dates use: the same local time on either side reads as the same local time again."""
    rows = {"subscriber_id": ["4930123450"], "counterparty": ["4312345678"], "start_time": [cell], "duration_s": [60]}
    frame = pl.DataFrame(rows)
    if typed:
        path, source = tmp_path / "usage.parquet", Source(name="pq", format="parquet", pattern="*.parquet", timezone=zone)
        frame.with_columns(pl.col("start_time").str.to_datetime("%Y-%m-%d %H:%M:%S")).write_parquet(path)
    else:
        path, source = tmp_path / "usage.csv", Source(name="csv", format="csv", pattern="*.csv", timezone=zone)
        frame.write_csv(path)
    result = read_usage_file(path, source)
    assert result.usage.get_column("start_time").to_list() == ([expected] if expected else [])
    rule = f"timestamp %Y-%m-%d %H:%M:%S{'%.f' if typed else ''} in {zone} from 2000-01-01 until 2100-01-01"
    assert result.rejects.select("source_line", "column", "rule").rows() == ([] if expected else [(1 + (not typed), "start_time", rule)])


VIENNA_TEXT = "timestamp %Y-%m-%d %H:%M:%S%.f in Europe/Vienna from 2000-01-01 until 2100-01-01"


@pytest.mark.parametrize(
    ("column", "typed", "expected", "reject"),
    [
        # digits past microseconds are dropped, as the text form writes them
        ("start_time", pl.Series([1_790_845_200_123_456_789], dtype=pl.Int64).cast(pl.Datetime("ns")), datetime(2026, 10, 1, 7, 0, 0, 123456, tzinfo=UTC), None),
        ("start_time", pl.Series([datetime(2026, 10, 1, 9)], dtype=pl.Datetime("ms")), datetime(2026, 10, 1, 7, tzinfo=UTC), None),
        # the hour a DST change repeats: the earlier instant, still summer time
        ("start_time", pl.Series([datetime(2026, 10, 25, 2, 30)]), datetime(2026, 10, 25, 0, 30, tzinfo=UTC), None),
        # a wall-clock time the DST change skips does not exist
        ("start_time", pl.Series([datetime(2026, 3, 29, 2, 30)]), None, ("2026-03-29 02:30:00.000000", VIENNA_TEXT)),
        ("start_time", pl.Series([datetime(1999, 12, 31, 23, 59)]), None, ("1999-12-31 23:59:00.000000", VIENNA_TEXT)),
        ("start_time", pl.Series([None], dtype=pl.Datetime("us")), None, ("", "required")),
        ("start_time", pl.Series([datetime(2026, 10, 1, 9, tzinfo=UTC)]).dt.convert_time_zone("America/New_York"), datetime(2026, 10, 1, 9, tzinfo=UTC), None),
        ("duration_s", pl.Series([2**64 - 1], dtype=pl.UInt64), None, ("18446744073709551615", "integer 0..604800")),
        ("duration_s", pl.Series([-1], dtype=pl.Int32), None, ("-1", "integer 0..604800")),
        ("duration_s", pl.Series([604_800], dtype=pl.UInt32), 604_800, None),
        ("billable", pl.Series([False]), False, None),
        ("billable", pl.Series([None], dtype=pl.Boolean), True, None),
    ],
    ids=["nanoseconds", "milliseconds", "dst-repeated-hour", "dst-skipped-hour", "before-2000", "no-start", "with-zone",
         "uint64-max", "int32-negative", "uint32-a-week", "not-billable", "billable-empty"],  # fmt: skip
)
def test_typed_parquet_columns_read_as_their_text_would(tmp_path, column, typed, expected, reject):
    """Integers, booleans and timestamps are read as they are typed; the value, rule and message
    are the ones of the same value written as text (a text Parquet file, read through the text casts)."""
    rows = {"record_key": ["k1"], "subscriber_id": ["43316812724"], "start_time": pl.Series([datetime(2026, 10, 1, 9)]), "duration_s": [60]}
    source = Source(name="pq", format="parquet", pattern="*.parquet", timezone="Europe/Vienna")
    pl.DataFrame({**rows, column: typed}).write_parquet(tmp_path / "typed.parquet")
    result = read_usage_file(tmp_path / "typed.parquet", source)
    if reject is None:
        assert result.usage.get_column(column).to_list() == [expected]
        assert result.rejects.height == 0
    else:
        assert result.usage.height == 0
        assert result.rejects.select("column", "value", "rule").rows() == [(column, *reject)]
    text = pl.DataFrame({**rows, column: typed}).with_columns(_written(column, typed))
    if typed.dtype == pl.Datetime("us", "America/New_York"):
        source = replace(source, timezone="UTC")
    pl.DataFrame(text).write_parquet(tmp_path / "text.parquet")
    from_text = read_usage_file(tmp_path / "text.parquet", replace(source, timestamp_format="%Y-%m-%d %H:%M:%S%.f"))
    assert_frame_equal(result.usage.drop("source_file"), from_text.usage.drop("source_file"))
    assert_frame_equal(result.rejects.drop("source_file", "reason"), from_text.rejects.drop("source_file", "reason"))
    assert result.rejects.get_column("reason").str.replace("typed", "text").to_list() == from_text.rejects.get_column("reason").to_list()


def _written(column: str, typed: pl.Series) -> pl.Expr:
    """The column as text, the way the docs say a typed value is checked (formatted here by Python)."""
    values = typed.to_list()
    if typed.dtype == pl.Datetime("us", "America/New_York"):
        values = [v.astimezone(UTC).replace(tzinfo=None) for v in values]
    if isinstance(typed.dtype, pl.Datetime):
        text = [None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f") for v in values]
        if typed.dtype.time_unit == "ns":
            text = ["2026-10-01 09:00:00.123456"]  # Python's datetime has no nanoseconds: the text form's truncation
    elif typed.dtype == pl.Boolean:
        text = [None if v is None else str(v).lower() for v in values]
    else:
        text = [None if v is None else str(v) for v in values]
    return pl.Series(column, text, dtype=pl.String).alias(column)


def test_a_parquet_file_of_several_row_groups_is_read_as_one_chunk_per_column(tmp_path):
    """Columns split differently (by row group, or computed whole) would make every later query
    of the batch copy it whole first (pipeline.io.readers.read_usage_file)."""
    rows = {"record_key": ["k1", "k2", "k3"], "subscriber_id": ["43316812724"] * 3, "start_time": [datetime(2026, 10, 1, 9)] * 3, "duration_s": [60] * 3}
    pl.DataFrame(rows).write_parquet(tmp_path / "usage.parquet", row_group_size=2)
    assert pq.ParquetFile(tmp_path / "usage.parquet").num_row_groups == 2
    result = read_usage_file(tmp_path / "usage.parquet", Source(name="pq", format="parquet", pattern="*.parquet"))
    assert {column.name: column.n_chunks() for column in result.usage.get_columns()} == dict.fromkeys(result.usage.columns, 1)
    assert result.usage.get_column("record_key").to_list() == ["pq:k1", "pq:k2", "pq:k3"]


def test_a_nul_in_a_configured_article_key_of_a_file_of_several_row_groups_rejects_rows_not_the_run(tmp_path):
    """A reviewer's fuzzed file (22 text rows in two row groups, minimised): its rows' columns came out
    of the reader split differently, and the final NUL check then stopped the reading with a Polars
    panic (assertion failed: i < self.len()) instead of rejecting rows. Every record is kept or rejected."""
    columns = ('id_type', 'subscriber_id', 'start_time', 'volume_bytes', 'article_key')
    rows = [
        ('string', 'AABBCCDDEEFF', None, ' \x00 ', 'data'),
        ('\ufeff', '-0', '2026-10-01T09:00:00', '\t', ' '),
        ('\xa0', 'ñandú', ' 2026-10-01 09:00:00 ', '\u2003', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
        ('Phone', '1', '2026-10-01', '1.0', ' sms '),
        ('\xa0', '01143316812724', ' 2026-10-01 09:00:00 ', '\xa0', 'ñ'),
        ('sms', '43316812724\x00', '2100-01-01 00:00:00', '\x85', 'voice'),
        ('mac', '1', '2099-12-31 23:59:59', None, None),
        ('string', '-1', '2026-10-01', '1000', '\x00phone'),
        ('\x00', None, '2026-03-29 02:30:00', None, '\u2028'),
        ('\u200b', '0x1F', '2026-03-29 02:30:00', '\u2028', 'a b'),
        (' mac', '43.316.812724', ' \x00 ', ' ', None),
        ('\u2003', '33 12 34 56', 'garbage', None, '\x85'),
        ('mac', '+49(0)30-1234 00', '2026-10-01 09:00:00', '-5', ' \t '),
        ('ipv6', '011 43 316 812724', '1999-12-31 23:59:59', ' 12 ', ' \t '),
        ('43316812724\x00', '99999999999999999999', '2026-13-01 09:00:00', '1000000000000001', '\u3000'),
        ('\x85', '43\xa0316812724', None, '', '\u200b'),
        (None, '1111111111111111', None, ' 12 ', '\x0c'),
        ('mac', '43.316.812724', 'garbage', '\x0c', None),
        ('PHONE', '43-316-812724', '2026-10-01 9:0:0', '\u2003', '\x85'),
        (None, '', ' 2026-10-01 09:00:00 ', '-5', '\xa0'),
        (' phone ', '0044 20 7946 0958', '2026-10-01 09:00:00', ' 12 ', '\x0c'),
        ('\x0b', '-0', '2026-10-01 9:0:0', '0', None),
    ]
    pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row").write_parquet(tmp_path / "usage.parquet", row_group_size=20)
    result = read_usage_file(tmp_path / "usage.parquet", Source(name="pq", format="parquet", pattern="*.parquet", article_key="vo\x00ice"))
    assert (result.usage.height, result.rejected_records) == (0, 22)
    # the file's own article key with a NUL (line 8), the configured one where the file has none (21, 22)
    assert result.rejects.filter(pl.col("column") == "article_key").select("source_line", "value").rows() == [
        (8, "\\x00phone"), (21, "vo\\x00ice"), (22, "vo\\x00ice")
    ]


def test_a_parquet_record_without_its_own_key_hashes_typed_columns_as_their_text(tmp_path):
    rows = {"record_key": ["k1", None], "subscriber_id": ["43316812724"] * 2, "start_time": [datetime(2026, 10, 1, 9, 0, 0, 500)] * 2,
            "duration_s": pl.Series([60, 61], dtype=pl.UInt16)}  # fmt: skip
    pl.DataFrame(rows).write_parquet(tmp_path / "usage.parquet")
    result = read_usage_file(tmp_path / "usage.parquet", Source(name="pq", format="parquet", pattern="*.parquet"))
    identity = ["43316812724", "2026-10-01 09:00:00.000500", "61"]
    assert result.usage.get_column("record_key").to_list() == ["pq:k1", "pq:" + hashlib.md5("\x1f".join(identity).encode()).hexdigest()]
