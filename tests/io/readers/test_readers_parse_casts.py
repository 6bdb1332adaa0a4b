"""pipeline/ingest/parse.py: text cells to typed columns, each failure reported with its rule."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from pipeline.ingest import parse

UTC = timezone.utc


@pytest.mark.parametrize(
    ("cast", "cells", "values", "failures"),
    [
        (parse.integer(), ["12", " 7 ", "", "1.5", "x"], [12, 7, None, None, None], [(4, "1.5", "integer"), (5, "x", "integer")]),
        (parse.integer(required=True, minimum=0, maximum=10), ["0", "10", "11", "-1", ""], [0, 10, None, None, None], [(3, "11", "integer 0..10"), (4, "-1", "integer 0..10"), (5, "", "required")]),
        (parse.number(minimum=0), ["1.25", "3", "-0.5", "1,5", None], [1.25, 3.0, None, None, None], [(3, "-0.5", "number >= 0"), (4, "1,5", "number >= 0")]),
        (parse.decimal(18, 6), ["0.019", "-3", "0.0000001", "1e3", ""], [Decimal("0.019"), Decimal("-3"), None, None, None], [(3, "0.0000001", "decimal(18,6)"), (4, "1e3", "decimal(18,6)")]),
        (parse.boolean(), ["true", "No", "1", "F", "maybe"], [True, False, True, False, None], [(5, "maybe", "boolean (true/false)")]),
        (parse.date(), ["2026-10-01", "2026-02-30", "", "01.10.2026", "2026-12-31"], [date(2026, 10, 1), None, None, None, date(2026, 12, 31)], [(2, "2026-02-30", "date %Y-%m-%d"), (4, "01.10.2026", "date %Y-%m-%d")]),
        (parse.date("%Y%m%d"), ["20261001", "2026101", "202610011", "", "20261231"], [date(2026, 10, 1), None, None, None, date(2026, 12, 31)], [(2, "2026101", "date %Y%m%d"), (3, "202610011", "date %Y%m%d")]),
        (parse.text(choices=["phone", "ipv4"]), ["phone", "ipv4", "mac", "", " phone "], ["phone", "ipv4", None, None, "phone"], [(3, "mac", "one of ipv4, phone")]),
        (parse.text(pattern=r"^\d+$", required=True), ["4331", "43a", "", "0", "1"], ["4331", None, None, "0", "1"], [(2, "43a", r"text matching ^\d+$"), (3, "", "required")]),
        (parse.ip_address(), ["167.112.17.42", "256.1.1.1", "2001:db8::1", "::", "1.2.3"], ["167.112.17.42", None, "2001:db8::1", "::", None], [(2, "256.1.1.1", "ip address"), (5, "1.2.3", "ip address")]),
        (parse.text(required=True), [" a ", "", None, "x\x00y", "b"], ["a", None, None, None, "b"], [(2, "", "required"), (3, "", "required"), (4, "x\x00y", parse.NUL_RULE)]),
        (parse.text(required=True), [None] * 5, [None] * 5, [(line, "", "required") for line in range(1, 6)]),
        (parse.text(), ["a", " ", None, "b", "c"], ["a", None, None, "b", "c"], []),
    ],
    ids=["integer", "bounded-required", "number", "decimal", "boolean", "date", "date-run-together", "choices", "pattern", "ip", "text",
         "text-none", "text-blank"],  # fmt: skip
)
def test_each_cast_converts_and_reports(cast, cells, values, failures):
    frame = pl.DataFrame({"line": [1, 2, 3, 4, 5], "cell": cells}, schema={"line": pl.Int64, "cell": pl.String})
    result = parse.parsed(frame, {"cell": cast}, line="line")
    assert result.frame["cell"].to_list() == values
    assert [(line, value, rule) for line, _, value, rule in result.failures.rows()] == failures
    assert result.ok.to_list() == [i + 1 not in {f[0] for f in failures} for i in range(5)]


@pytest.mark.parametrize(
    ("fmt", "zone", "cell", "expected"),
    [
        ("%Y-%m-%d %H:%M:%S", "UTC", "2026-10-01 09:00:00", datetime(2026, 10, 1, 9, tzinfo=UTC)),
        ("%Y-%m-%d %H:%M:%S", "Europe/Vienna", "2026-10-01 09:00:00", datetime(2026, 10, 1, 7, tzinfo=UTC)),
        ("%Y-%m-%d %H:%M:%S", "Europe/Vienna", "2026-10-25 02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("%Y-%m-%d %H:%M:%S", "Europe/Vienna", "2026-03-29 02:30:00", None),
        ("%d.%m.%Y %H:%M", "Europe/Berlin", "24.12.2026 18:00", datetime(2026, 12, 24, 17, tzinfo=UTC)),
        ("%Y-%m-%dT%H:%M:%S%z", "Europe/Vienna", "2026-10-01T09:00:00+05:00", datetime(2026, 10, 1, 4, tzinfo=UTC)),
        # ISO 8601's Z is the offset +00:00, with %z and %:z too
        ("%Y-%m-%dT%H:%M:%S%z", "Europe/Vienna", "2026-10-01T09:00:00Z", datetime(2026, 10, 1, 9, tzinfo=UTC)),
        ("%Y-%m-%dT%H:%M:%S%:z", "Europe/Vienna", "2026-10-01T09:00:00Z", datetime(2026, 10, 1, 9, tzinfo=UTC)),
        (("%Y-%m-%d %H:%M:%S.%3f", "%Y-%m-%d %H:%M:%S"), "UTC", "2026-10-01 09:00:00", datetime(2026, 10, 1, 9, tzinfo=UTC)),
        (("%Y-%m-%d %H:%M:%S.%3f", "%Y-%m-%d %H:%M:%S"), "UTC", "2026-10-01 09:00:00.250", datetime(2026, 10, 1, 9, 0, 0, 250000, tzinfo=UTC)),
        # epoch seconds are an instant: the zone is not used, not even in the hour it skips
        ("%s", "Europe/Vienna", "1782907200", datetime(2026, 7, 1, 12, tzinfo=UTC)),
        ("%s", "Europe/Vienna", "1774751400", datetime(2026, 3, 29, 2, 30, tzinfo=UTC)),
        # a zone name is skipped, not read: the time is the source's zone's (a config that worked stays working)
        ("%Y-%m-%d %H:%M:%S %Z", "UTC", "2026-10-01 08:00:00 UTC", datetime(2026, 10, 1, 8, tzinfo=UTC)),
        # numbers run together: a digit lost is no time 09:00:00 (strptime read the last 0 as the seconds)
        ("%Y%m%d%H%M%S", "UTC", "20261001090000", datetime(2026, 10, 1, 9, tzinfo=UTC)),
        ("%Y%m%d%H%M%S", "UTC", "2026100109000", None),
        ("%Y%m%d%H%M%S", "Europe/Vienna", "2026100109000", None),
        # separators between the numbers: a day of one digit is unambiguous, and read as before
        ("%d.%m.%Y %H:%M", "UTC", "5.10.2026 10:00", datetime(2026, 10, 5, 10, tzinfo=UTC)),
    ],
    ids=["utc", "summer", "repeated-hour", "skipped-hour", "other-format", "offset-wins", "z-offset", "z-offset-colon", "second-format", "first-format", "epoch", "epoch-in-skipped-hour",
         "zone-name-skipped", "run-together", "run-together-digit-lost", "run-together-digit-lost-local", "separated-short-day"],
)
def test_timestamps_become_utc(fmt, zone, cell, expected):
    frame = pl.DataFrame({"source_line": [1], "t": [cell]})
    result = parse.parsed(frame, {"t": parse.timestamp(fmt, zone)})
    assert result.frame["t"].to_list() == [expected]
    assert result.frame.schema["t"] == pl.Datetime("us", "UTC")
    assert result.failures.height == (expected is None)


@pytest.mark.parametrize(
    ("zone", "cell", "expected"),
    [
        # DuckDB's zone data (which also sets bands and billing days): British Columbia keeps daylight
        # time (-07) for good from 2026-11-01; an older database (Polars' own) goes back to -08
        ("America/Vancouver", "2026-10-26 17:30:00", datetime(2026, 10, 27, 0, 30, tzinfo=UTC)),
        ("America/Vancouver", "2026-11-02 17:30:00", datetime(2026, 11, 3, 0, 30, tzinfo=UTC)),
        ("America/Vancouver", "2026-11-01 01:30:00", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),  # no hour repeats any more
        ("America/Vancouver", "2025-11-02 01:30:00", datetime(2025, 11, 2, 8, 30, tzinfo=UTC)),  # the last one that did: the earlier
        # Morocco: +00 from 2026-09-20 by DuckDB's data (+01 by the older one)
        ("Africa/Casablanca", "2026-09-19 12:00:00", datetime(2026, 9, 19, 11, tzinfo=UTC)),
        ("Africa/Casablanca", "2026-12-01 12:00:00", datetime(2026, 12, 1, 12, tzinfo=UTC)),
        # Moldova changes at 03:00 by DuckDB's data, at 02:00 by the older one
        ("Europe/Chisinau", "2026-03-29 02:30:00", datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),
        ("Europe/Chisinau", "2026-03-29 03:30:00", None),
        # Vienna as before: the repeated hour's earlier instant, the skipped hour refused, to the microsecond
        ("Europe/Vienna", "2026-10-25 01:59:59.999999", datetime(2026, 10, 24, 23, 59, 59, 999999, tzinfo=UTC)),
        ("Europe/Vienna", "2026-10-25 02:00:00", datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
        ("Europe/Vienna", "2026-10-25 02:59:59.999999", datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC)),
        ("Europe/Vienna", "2026-10-25 03:00:00", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
        ("Europe/Vienna", "2026-03-29 01:59:59.999999", datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)),
        ("Europe/Vienna", "2026-03-29 02:00:00", None),
        ("Europe/Vienna", "2026-03-29 02:59:59.999999", None),
        ("Europe/Vienna", "2026-03-29 03:00:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        # a change of half an hour: Lord Howe Island's repeated and skipped half hours
        ("Australia/Lord_Howe", "2026-04-05 01:45:00", datetime(2026, 4, 4, 14, 45, tzinfo=UTC)),
        ("Australia/Lord_Howe", "2026-10-04 02:15:00", None),
        # a whole day skipped: Samoa crossed the date line after 2011-12-29
        ("Pacific/Apia", "2011-12-29 23:59:59", datetime(2011, 12, 30, 9, 59, 59, tzinfo=UTC)),
        ("Pacific/Apia", "2011-12-30 12:00:00", None),
        ("Pacific/Apia", "2011-12-31 00:00:00", datetime(2011, 12, 30, 10, tzinfo=UTC)),
    ],
)
def test_local_times_follow_duckdbs_time_zone_data(zone, cell, expected):
    frame = pl.DataFrame({"source_line": [1], "t": [cell]})
    result = parse.parsed(frame, {"t": parse.timestamp(("%Y-%m-%d %H:%M:%S%.f",), zone)})
    assert result.frame["t"].to_list() == [expected]
    assert result.failures.rows() == ([] if expected else [(1, "t", cell, f"timestamp %Y-%m-%d %H:%M:%S%.f in {zone}")])


def test_local_times_keep_their_rows_whatever_their_days_and_formats():
    """Each row's time is its own, in row order, across days with and without a change, empty
    cells and a second format tried only where the first did not read."""
    cells = ["2026-11-02 17:30:00", "", "03.11.2026 09:00:00", "2026-03-08 02:30:00", "2026-03-08 03:30:00", "2026-10-26 17:30:00", "x"]
    frame = pl.DataFrame({"source_line": [1, 2, 3, 4, 5, 6, 7], "t": cells})
    result = parse.parsed(frame, {"t": parse.timestamp(("%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S"), "America/Vancouver")})
    assert result.frame["t"].to_list() == [
        datetime(2026, 11, 3, 0, 30, tzinfo=UTC), None, datetime(2026, 11, 3, 16, tzinfo=UTC), None,
        datetime(2026, 3, 8, 10, 30, tzinfo=UTC), datetime(2026, 10, 27, 0, 30, tzinfo=UTC), None,
    ]  # fmt: skip
    rule = "timestamp %Y-%m-%d %H:%M:%S or %d.%m.%Y %H:%M:%S in America/Vancouver"
    assert result.failures.rows() == [(4, "t", "2026-03-08 02:30:00", rule), (7, "t", "x", rule)]


@pytest.mark.parametrize(
    ("columns", "zone", "files"),
    [
        (1, "Europe/Vienna", 5),  # a mapped CSV's start_time
        (2, "Europe/Vienna", 5),  # Asterisk, FreeSWITCH: start and answer
        (2, "America/Vancouver", 3),
    ],
)
def test_local_times_open_no_duckdb_connection_per_file(monkeypatch, columns, zone, files):
    """Readers of many small files: a fresh DuckDB connection per local-time column of every file
    (~25 ms) made a 21-line Asterisk file read in ~100 ms instead of ~6 ms."""
    import duckdb

    opened = []
    connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: opened.append(args) or connect(*args, **kwargs))
    names = [f"t{i}" for i in range(columns)]
    frame = pl.DataFrame({"source_line": [1, 2], **{n: ["2026-10-25 02:30:00", "2026-10-01 09:00:00"] for n in names}})
    for _ in range(files):
        result = parse.parsed(frame, {n: parse.timestamp("%Y-%m-%d %H:%M:%S", zone) for n in names})
        assert result.ok.to_list() == [True, True]
    assert len(opened) <= 1  # at most the process's first


def test_epoch_seconds_name_no_zone_in_their_rule():
    frame = pl.DataFrame({"source_line": [1], "t": ["yesterday"]})
    assert parse.parsed(frame, {"t": parse.timestamp("%s", "Europe/Vienna")}).failures["rule"].to_list() == ["timestamp %s"]


def test_bounds_on_timestamps_are_inclusive_then_exclusive():
    frame = pl.DataFrame({"source_line": [1, 2, 3], "t": ["2000-01-01 00:00:00", "2099-12-31 23:59:59", "2100-01-01 00:00:00"]})
    result = parse.parsed(frame, {"t": parse.timestamp(earliest="2000-01-01", latest="2100-01-01")})
    assert result.ok.to_list() == [True, True, False]
    assert result.failures["rule"].to_list() == ["timestamp %Y-%m-%d %H:%M:%S from 2000-01-01 until 2100-01-01"]


def test_several_bad_cells_of_a_row_are_each_reported_in_column_order():
    frame = pl.DataFrame({"source_line": [7, 8], "a": ["x", "1"], "b": ["y", "2"], "c": ["ok", "ok"]})
    result = parse.parsed(frame, {"b": parse.integer(), "a": parse.integer(), "c": parse.text()})
    assert result.failures.rows() == [(7, "b", "y", "integer"), (7, "a", "x", "integer")]
    assert result.good.rows() == [(8, 1, 2, "ok")]


def test_columns_to_parse_must_exist():
    with pytest.raises(KeyError, match=r"\['nope'\]"):
        parse.parsed(pl.DataFrame({"source_line": [1]}), {"nope": parse.text()})
