"""Catalog validation: every problem is reported with file, line, column, value and rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.catalog import CatalogError, CatalogNotFound, problem_text, validated_catalog
from pipeline.io.catalog_files import load_catalog, read_catalog_csv
from pipeline.io.readers import Source, SourceConfigError
from tests.factory import BASE_CATALOG, raw_catalog


def errors_of(**tables) -> list[tuple]:
    with pytest.raises(CatalogError) as caught:
        validated_catalog(raw_catalog(**tables))
    return caught.value.errors.rows()


def test_the_shipped_sample_catalog_is_valid():
    catalog = load_catalog("data/sample/catalog")
    assert catalog.contracts.height >= 4


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("contracts", "start_date", "2025-13-01", "date YYYY-MM-DD"),
        ("tariffs", "first_increment_s", "sixty", "type Int64"),
        ("tariffs", "next_increment_s", "86401", "less_than_or_equal_to(86400)"),  # longer than a day
        ("tariffs", "vat_rate", "1.5000", "less_than_or_equal_to(1)"),
        # more decimals than the column keeps would be rounded away: refused, never rounded
        ("tariffs", "vat_rate", "0.19999", "decimal number with at most 2 digits before the point and 4 after it"),
        ("prices", "price", "0.0000004", "decimal number with at most 12 digits before the point and 6 after it"),
        ("prices", "price", "1e-3", "decimal number with at most 12 digits before the point and 6 after it"),
        ("customers", "vat_treatment", "sometimes", "isin(['normal', 'reverse_charge', 'exempt'])"),
        ("zones", "prefix", "43a", "str_matches('^[1-9][0-9]{0,14}$')"),
        ("zones", "prefix", "0043", "str_matches('^[1-9][0-9]{0,14}$')"),  # national format: it would never match
        ("device_ids", "id_type", "fax", "isin(['phone', 'ipv4', 'ipv6', 'mac', 'string'])"),
        # PostgreSQL's text cannot store a NUL: the name would stop every write of the runs that carry it
        ("customers", "name", "Alpen\x00blick", "text without NUL characters"),
        ("zones", "zone_name", "national\x00", "text without NUL characters"),
    ],
)
def test_a_bad_cell_names_file_line_column_value_and_rule(table, column, value, rule):
    columns = {c: list(v) for c, v in BASE_CATALOG[table].items()}
    columns[column] = [value] + columns[column][1:]
    assert errors_of(**{table: columns}) == [(f"{table}.csv", 2, column, value, rule)]


def test_an_empty_required_cell_and_a_repeated_key_are_named_in_words_not_pandera_check_names():
    """errors audit: the messages said `value None breaks rule not_nullable` and `field_uniqueness`."""
    customers = {c: list(v) for c, v in BASE_CATALOG["customers"].items()}
    customers["name"] = [None] + customers["name"][1:]
    customers["customer_id"] = [customers["customer_id"][0]] * len(customers["customer_id"])
    with pytest.raises(CatalogError) as caught:
        validated_catalog(raw_catalog(customers=customers))
    lines = [problem_text(*row) for row in caught.value.errors.filter(pl.col("file") == "customers.csv").rows()]
    assert lines == [
        "customers.csv:2: column 'customer_id': value 'C1' breaks rule unique: another row has the same value",
        "customers.csv:2: column 'name': value (empty) breaks rule required: the cell is empty",
        "customers.csv:3: column 'customer_id': value 'C1' breaks rule unique: another row has the same value",
    ]


def test_a_reference_to_a_missing_customer_is_an_error():
    contracts = {c: list(v) for c, v in BASE_CATALOG["contracts"].items()}
    contracts["customer_id"] = ["C1", "C9"]
    assert errors_of(contracts=contracts) == [
        ("contracts.csv", 3, "customer_id", "C9", "must exist in customers.customer_id")
    ]


def test_an_unknown_column_is_an_error():
    zones = {**BASE_CATALOG["zones"], "colour": ["red", "blue"]}
    assert errors_of(zones=zones) == [("zones.csv", 1, "colour", None, "unknown column")]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        # a zone no engine knows would stop every run that rates or bills the contract
        ({"timezone": ["Europe/Vienna", "Europe/Wien"]}, [("contracts.csv", 3, "timezone", "Europe/Wien", "an IANA time zone name (e.g. Europe/Vienna)")]),
        ({"timezone": ["UTC", "europe/vienna"]}, [("contracts.csv", 3, "timezone", "europe/vienna", "an IANA time zone name (e.g. Europe/Vienna)")]),
        # a file of the zone database, no zone: DuckDB (bands, billing cut-offs) stopped on it
        ({"timezone": ["UTC", "localtime"]}, [("contracts.csv", 3, "timezone", "localtime", "an IANA time zone name (e.g. Europe/Vienna)")]),
        ({"timezone": ["UTC", "posixrules"]}, [("contracts.csv", 3, "timezone", "posixrules", "an IANA time zone name (e.g. Europe/Vienna)")]),
        # a check over the row names the column it is about, with the cell as written
        ({"end_date": [None, "2024-12-31"]}, [("contracts.csv", 3, "end_date", "2024-12-31", "end_date_not_before_start_date")]),
    ],
    ids=["unknown-zone", "zone-in-lower-case", "localtime", "posixrules", "ends-before-it-starts"],
)
def test_a_contract_row_problem_names_its_column_and_value(columns, expected):
    assert errors_of(contracts={**BASE_CATALOG["contracts"], **columns}) == expected


@pytest.mark.parametrize(
    ("zone", "known"),
    [
        ("America/Vancouver", True),
        ("Europe/Kyiv", True),
        ("America/Coyhaique", True),
        ("Etc/GMT+5", True),
        ("Factory", False),  # the zone database's placeholder for "local time unknown", no zone
        # DuckDB (ICU) knows these, the IANA database does not (any more): no IANA names
        ("IST", False),
        ("US/Pacific-New", False),
        ("SystemV/EST5", False),
        ("localtime", False),  # a file of a system's zone database
        ("right/UTC", False),
    ],
)
def test_contracts_and_sources_take_the_same_time_zones_the_ones_duckdb_knows(zone, known):
    """DuckDB converts every local time (readers, bands, billing days): a zone it lacks is refused
    where it is configured, contracts.csv with file, line and column, sources.toml with source and key."""
    contracts = {**BASE_CATALOG["contracts"], "timezone": ["UTC", zone]}
    try:
        validated_catalog(raw_catalog(contracts=contracts))
        in_catalog = True
    except CatalogError as error:
        assert error.errors.rows() == [("contracts.csv", 3, "timezone", zone, "an IANA time zone name (e.g. Europe/Vienna)")]
        in_catalog = False
    try:
        Source(name="a", format="csv", pattern="*", timezone=zone)
        in_sources = True
    except SourceConfigError as error:
        assert f"source a: timezone {zone!r} is not an IANA time zone" in str(error)
        in_sources = False
    assert (in_catalog, in_sources) == (known, known)
    assert not known or duckdb.sql("SELECT count(*) FROM pg_timezone_names() WHERE name = $zone", params={"zone": zone}).fetchall() == [(1,)]


def test_an_empty_cell_of_an_optional_column_takes_its_default():
    contracts = {**BASE_CATALOG["contracts"], "timezone": ["Europe/Vienna", None]}
    tariffs = {**BASE_CATALOG["tariffs"], "currency": [None, "CHF"]}
    catalog = validated_catalog(raw_catalog(contracts=contracts, tariffs=tariffs))
    assert catalog.contracts.get_column("timezone").to_list() == ["Europe/Vienna", "UTC"]
    assert catalog.tariffs.get_column("currency").to_list() == ["EUR", "CHF"]


@pytest.mark.parametrize(
    ("table", "column", "cells", "read"),
    [
        # every cell is read stripped: a cell of blanks alone (a column aligned by hand) is empty, not ''
        ("articles", "alt_name", ["   "], [None]),  # '' would print as the article's name on every invoice
        ("article_keys", "zone_id", [" "], [None]),  # '' would be a zone, not every zone not listed
        ("contracts", "end_date", ["2026-06-30", "  "], [dt.date(2026, 6, 30), None]),
        ("contracts", "timezone", ["Europe/Vienna", " "], ["Europe/Vienna", "UTC"]),
        ("customers", "vat_treatment", ["\t", "exempt"], ["normal", "exempt"]),
        ("device_ids", "id_to", [" ", "4930123499"], [None, "4930123499"]),
    ],
)
def test_a_cell_of_blanks_alone_is_an_empty_cell(table, column, cells, read):
    catalog = validated_catalog(raw_catalog(**{table: {**BASE_CATALOG[table], column: cells}}))
    assert getattr(catalog, table).get_column(column).to_list() == read


def test_an_alt_name_of_blanks_alone_leaves_the_invoice_line_its_articles_name():
    from pipeline.job import rate
    from tests.factory import usage

    catalog = validated_catalog(raw_catalog(articles={**BASE_CATALOG["articles"], "alt_name": ["  "]}))
    lines = rate(usage(subscriber_id=["4331681272420"]), catalog, "run").table("invoice_lines").pl()
    assert lines.get_column("article_name").to_list() == ["Calls national"]


@pytest.mark.parametrize("header", ["customer_idd", "Customer_ID"])
def test_a_misspelt_key_column_is_a_header_problem_not_a_crash_of_the_reference_checks(header):
    customers = {(header if c == "customer_id" else c): v for c, v in BASE_CATALOG["customers"].items()}
    assert sorted(errors_of(customers=customers)) == sorted([
        ("customers.csv", 1, header, None, "unknown column"),
        ("customers.csv", 1, "customer_id", None, "required column missing"),
    ])  # fmt: skip


def test_every_problem_is_listed_at_once():
    tariffs = {c: list(v) for c, v in BASE_CATALOG["tariffs"].items()}
    tariffs["first_increment_s"] = ["x", "0"]
    rows = errors_of(tariffs=tariffs)
    assert rows == [
        ("tariffs.csv", 2, "first_increment_s", "x", "type Int64"),
        ("tariffs.csv", 3, "first_increment_s", "0", "greater_than_or_equal_to(1)"),
    ]


def write_catalog(directory: Path, **files: bytes) -> Path:
    """The factory catalog as CSV files in `directory`, with some files replaced by the given bytes."""
    directory.mkdir()
    for name, table in raw_catalog().items():
        table.frame.drop("_line").write_csv(directory / f"{name}.csv")
    for name, content in files.items():
        (directory / f"{name}.csv").write_bytes(content)
    return directory


@pytest.mark.parametrize(
    ("files", "problem", "message"),
    [
        ({"customers": b""}, ("customers.csv", 1, None, None, "the file is empty: it needs its header line"),
         "customers.csv:1: the file is empty: it needs its header line"),
        ({"customers": b"\n \n"}, ("customers.csv", 1, None, None, "the file is empty: it needs its header line"),
         "customers.csv:1: the file is empty: it needs its header line"),
        ({"customers": b"customer_id,name\nC1,M\xfcller\n"},  # Latin-1, as a spreadsheet saves it
         ("customers.csv", 2, None, None, "not UTF-8 text (byte 0xFC): save the file as UTF-8"),
         "customers.csv:2: not UTF-8 text (byte 0xFC): save the file as UTF-8"),
        ({"customers": b"customer_id;name\nC1;Alpha\n"},
         ("customers.csv", 1, None, None, "the header is one column 'customer_id;name': the delimiter must be a comma"),
         "customers.csv:1: the header is one column 'customer_id;name': the delimiter must be a comma"),
        ({"customers": b"customer_id\tname\nC1\tAlpha\n"},
         ("customers.csv", 1, None, None, "the header is one column 'customer_id\\tname': the delimiter must be a comma"),
         "customers.csv:1: the header is one column 'customer_id\\tname': the delimiter must be a comma"),
        ({"zones": b'prefix,zone_id,zone_name\n43,NAT,national\n49,"NAT,national\n50,NAT,national\n'},
         ("zones.csv", 3, None, None, 'a quoted field is not closed: this line has an odd number of "'),
         'zones.csv:3: a quoted field is not closed: this line has an odd number of "'),
        ({"zones": b"prefix,zone_id,zone_name,zone_id\n43,NAT,national,NAT\n"},
         ("zones.csv", 1, None, None, "the header names 'zone_id' twice: each column once"),
         "zones.csv:1: the header names 'zone_id' twice: each column once"),
        ({"zones": b"prefix,zone_id,zone_name\n43,NAT,national\n49,NAT,national,extra\n"},
         ("zones.csv", 3, None, None, "more fields than the header's 3 columns"),
         "zones.csv:3: more fields than the header's 3 columns"),
        ({"zones": b"prefix,zone_id,zone_name\n43,NAT,national\n49,NAT\n"},  # a cell left out, not an empty one
         ("zones.csv", 3, None, None, "fewer fields than the header's 3 columns"),
         "zones.csv:3: fewer fields than the header's 3 columns"),
        ({"zones": b'prefix,zone_id,zone_name\r\n43,"NAT,1"\r\n49,NAT,national\r\n'},
         ("zones.csv", 2, None, None, "fewer fields than the header's 3 columns"),
         "zones.csv:2: fewer fields than the header's 3 columns"),
    ],
)
def test_a_catalog_file_that_cannot_be_read_is_one_problem_naming_file_line_and_rule(tmp_path, files, problem, message):
    directory = write_catalog(tmp_path / "catalog", **files)
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    rows = caught.value.errors.with_columns(pl.col("file").str.replace(r".*/", "")).rows()
    assert rows == [problem]
    assert f"catalog invalid (1 problem):\n{directory}/{message}" == str(caught.value)


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda path: path.mkdir(), "cannot read the file: Is a directory"),
        (lambda path: path.symlink_to(path.with_name("gone.csv")), "cannot read the file: No such file or directory"),
    ],
    ids=["a-directory", "a-dangling-link"],
)
def test_a_catalog_file_that_is_no_file_is_a_problem_naming_it(tmp_path, make, rule):
    directory = write_catalog(tmp_path / "catalog")
    (directory / "zones.csv").unlink()
    make(directory / "zones.csv")
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert caught.value.errors.rows() == [(str(directory / "zones.csv"), None, None, None, rule)]


def test_blank_lines_in_a_catalog_file_are_no_rows_and_keep_the_line_numbers(tmp_path):
    directory = write_catalog(tmp_path / "catalog")
    zones = directory / "zones.csv"
    zones.write_text(zones.read_text().replace("\n", "\n\n", 1) + "\n,,\n")  # a blank line after the header, a trailing one
    table = read_catalog_csv(zones)
    assert table.frame.get_column("_line").to_list() == [3, 4]
    assert load_catalog(directory).zones.height == 2


@pytest.mark.parametrize("blank", ["   ", "\t", " , ,  "])
def test_a_line_of_blanks_alone_is_a_blank_line_not_a_row_of_empty_cells(tmp_path, blank):
    """As its cells are empty cells (blanks alone), the line is blank: no row, no 'required' problems."""
    directory = write_catalog(tmp_path / "catalog")
    zones = directory / "zones.csv"
    zones.write_text(zones.read_text() + blank + "\n")
    assert read_catalog_csv(zones).frame.get_column("_line").to_list() == [2, 3]
    assert load_catalog(directory).zones.height == 2


@pytest.mark.parametrize(
    "zones",
    [
        "prefix, zone_id, zone_name\n43,     NAT,     national\n",  # aligned by hand: blanks after each comma
        "prefix ,zone_id ,zone_name\n43     ,NAT     ,national\n",
    ],
)
def test_a_header_name_is_read_without_its_blanks_as_the_cells_are(tmp_path, zones):
    directory = write_catalog(tmp_path / "catalog", zones=zones.encode())
    assert load_catalog(directory).zones.rows() == [("43", "NAT", "national")]


def test_a_csv_file_no_table_is_named_after_is_a_problem_not_ignored(tmp_path):
    """promotion.csv for promotions.csv would drop every promotion unseen."""
    directory = write_catalog(tmp_path / "catalog")
    (directory / "promotion.csv").write_text("tariff_id,article_id\n")
    (directory / "notes.txt").write_text("not a CSV file: left alone\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert caught.value.errors.rows() == [
        (str(directory / "promotion.csv"), None, None, None,
         "no catalog table has this name: name the file after its table (docs/catalog.md) or move it out of the catalog directory")
    ]  # fmt: skip


def test_a_row_after_a_quoted_line_break_keeps_its_own_line_number(tmp_path):
    directory = write_catalog(tmp_path / "catalog")
    (directory / "zones.csv").write_text('prefix,zone_id,zone_name\n43,NAT,"national\nzone"\n\n4x,NAT,national\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert [(line, column, value) for _, line, column, value, _ in caught.value.errors.rows()] == [(5, "prefix", "4x")]


def test_a_missing_catalog_directory_is_one_error_not_a_list_of_missing_files(tmp_path):
    with pytest.raises(CatalogNotFound, match=f"^catalog directory {tmp_path / 'nowhere'} not found$"):
        load_catalog(tmp_path / "nowhere")


def test_a_missing_file_is_named_without_a_line_or_column():
    raw = raw_catalog()
    del raw["zones"]
    with pytest.raises(CatalogError) as caught:
        validated_catalog(raw)
    assert caught.value.errors.rows() == [("zones.csv", None, None, None, "file is required")]
    assert str(caught.value) == "catalog invalid (1 problem):\nzones.csv: file is required"


def problems_of(**tables) -> list[str]:
    """The problems of BASE_CATALOG with whole tables replaced, as the lines CatalogError prints."""
    with pytest.raises(CatalogError) as caught:
        validated_catalog(raw_catalog(**tables))
    return [problem_text(*row) for row in caught.value.errors.rows()]


PRICES = ("tariff_id", "article_id", "price", "valid_from", "valid_until")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("T-MIN", "A-NAT", "0.06", None, None), ("T-MIN", "A-NAT", "0.07", None, None)],  # an exact duplicate
         ["prices.csv:3: column 'valid_from': value (empty) breaks rule overlaps an earlier row with the same tariff_id, article_id"]),
        ([("T-MIN", "A-NAT", "0.06", None, None), ("T-MIN", "A-NAT", "0.07", "2026-01-01", None)],
         ["prices.csv:3: column 'valid_from': value '2026-01-01' breaks rule overlaps an earlier row with the same tariff_id, article_id"]),
        ([("T-MIN", "A-NAT", "0.06", "2026-01-01", "2026-07-01"), ("T-MIN", "A-NAT", "0.07", "2026-06-30", None)],
         ["prices.csv:3: column 'valid_from': value '2026-06-30' breaks rule overlaps an earlier row with the same tariff_id, article_id"]),
        ([("T-MIN", "A-NAT", "0.06", "2026-01-01", "2025-01-01")],
         ["prices.csv:2: column 'valid_until': value '2025-01-01' breaks rule valid_until must be after valid_from"]),
        ([("T-MIN", "A-NAT", "0.06", "2026-01-01", "2026-01-01")],
         ["prices.csv:2: column 'valid_until': value '2026-01-01' breaks rule valid_until must be after valid_from"]),
        # a date that does not parse is reported as such, not as an open end that overlaps
        ([("T-MIN", "A-NAT", "0.06", None, "2026-7-01"), ("T-MIN", "A-NAT", "0.07", "2026-07-01", None)],
         ["prices.csv:2: column 'valid_until': value '2026-7-01' breaks rule date YYYY-MM-DD"]),
    ],
    ids=["duplicate", "open-then-dated", "one-day-overlap", "ends-before-start", "ends-on-start", "a-bad-date"],
)
def test_prices_of_one_tariff_and_article_must_not_overlap_in_time(rows, expected):
    prices = {c: [r[i] for r in rows] + [v] for i, (c, v) in enumerate(zip(PRICES, ("T-SEC", "A-NAT", "0.06", None, None)))}
    assert problems_of(prices=prices) == expected


def test_prices_that_follow_each_other_are_valid():
    prices = {"tariff_id": ["T-MIN", "T-MIN", "T-SEC"], "article_id": ["A-NAT"] * 3, "price": ["0.06", "0.05", "0.06"],
              "valid_from": [None, "2026-07-01", None], "valid_until": ["2026-07-01", None, None]}
    assert validated_catalog(raw_catalog(prices=prices)).prices.height == 3


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("voice", "NAT", "A-NAT"), ("voice", "NAT", "A-NAT")],
         ["article_keys.csv:2: column 'zone_id': value 'NAT' breaks rule two rows with the same article_key, zone_id",
          "article_keys.csv:3: column 'zone_id': value 'NAT' breaks rule two rows with the same article_key, zone_id"]),
        ([("data", None, "A-NAT"), ("voice", "NAT", "A-NAT"), ("data", None, "A-NAT")],  # an empty zone_id is a value too
         ["article_keys.csv:2: column 'zone_id': value (empty) breaks rule two rows with the same article_key, zone_id",
          "article_keys.csv:4: column 'zone_id': value (empty) breaks rule two rows with the same article_key, zone_id"]),
    ],
    ids=["same-zone", "two-rows-for-every-zone"],
)
def test_an_article_key_and_zone_name_one_article(rows, expected):
    article_keys = {c: [r[i] for r in rows] for i, c in enumerate(("article_key", "zone_id", "article_id"))}
    assert problems_of(article_keys=article_keys) == expected


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("contracts", "start_date", "26-01-01", "date YYYY-MM-DD"),  # year 0026, not 2026
        ("contracts", "start_date", "026-01-01", "date YYYY-MM-DD"),
        ("contracts", "start_date", "+2026-01-01", "date YYYY-MM-DD"),
        ("contracts", "start_date", "2026-1-1", "date YYYY-MM-DD"),  # two-digit month and day, as the docs say
        ("prices", "valid_until", "27-01-01", "date YYYY-MM-DD"),
        ("device_ids", "valid_from", "26-10-01 00:00:00", "timestamp YYYY-MM-DD[ HH:MM:SS] (UTC)"),
        ("device_ids", "valid_from", "26-10-01", "timestamp YYYY-MM-DD[ HH:MM:SS] (UTC)"),
        ("device_ids", "valid_from", "2026-1-01 00:00:00", "timestamp YYYY-MM-DD[ HH:MM:SS] (UTC)"),
    ],
)
def test_a_date_or_timestamp_needs_a_four_digit_year(table, column, value, rule):
    columns = {c: list(v) for c, v in BASE_CATALOG[table].items()}
    rows = len(next(iter(columns.values())))
    columns[column] = [value] + columns.get(column, [None] * rows)[1:]
    assert problems_of(**{table: columns}) == [f"{table}.csv:2: column {column!r}: value {value!r} breaks rule {rule}"]


@pytest.mark.parametrize("value", ["2026-01-01", " 2026-01-01 ", "2026-01-01 10:00:00", "2026-01-01T10:00:00"])
def test_an_iso_timestamp_is_read(value):
    device_ids = {**BASE_CATALOG["device_ids"], "valid_from": [value, None]}
    assert validated_catalog(raw_catalog(device_ids=device_ids)).device_ids.get_column("valid_from").dt.year().to_list() == [2026, None]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85"])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_cell_holding_a_character_python_takes_for_a_line_break_is_text(tmp_path, char, ending):
    """str.splitlines splits on these, the CSV parser does not: the rows must still be numbered right."""
    directory = write_catalog(tmp_path / "catalog")
    text = f"prefix,zone_id,zone_name\n43,NAT,nat{char}ional\n4x,NAT,national\n".replace("\n", ending)
    (directory / "zones.csv").write_bytes(text.encode())
    assert read_catalog_csv(directory / "zones.csv").frame.rows() == [("43", "NAT", f"nat{char}ional", 2), ("4x", "NAT", "national", 3)]
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert [problem_text(*row) for row in caught.value.errors.with_columns(pl.col("file").str.replace(r".*/", "")).rows()] == [
        "zones.csv:3: column 'prefix': value '4x' breaks rule str_matches('^[1-9][0-9]{0,14}$')"
    ]


def test_a_file_with_cr_line_endings_cannot_be_read(tmp_path):
    directory = write_catalog(tmp_path / "catalog", zones=b"prefix,zone_id,zone_name\r43,NAT,national\r49,NAT,national\r")
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    assert caught.value.errors.rows() == [
        (str(directory / "zones.csv"), 1, None, None,
         "lines end in a carriage return alone (old Mac text): save the file with LF or CRLF line endings")
    ]  # fmt: skip


CURRENCY_RULE = "an ISO 4217 currency code in capitals (EUR, CHF, USD, …)"


@pytest.mark.parametrize("currency", ["XYZ", "usd", "Eur", "EU", "EURO", "€"])
def test_a_tariff_currency_is_an_iso_4217_code(currency):
    tariffs = {**BASE_CATALOG["tariffs"], "currency": [currency, "EUR"]}
    assert problems_of(tariffs=tariffs) == [f"tariffs.csv:2: column 'currency': value {currency!r} breaks rule {CURRENCY_RULE}"]


@pytest.mark.parametrize("currency", ["EUR", "CHF", "USD", "GBP", "JPY", "SEK", "PLN", "CZK", "HUF", "DKK", "NOK"])
def test_a_tariff_in_a_current_currency_is_valid(currency):
    tariffs = {**BASE_CATALOG["tariffs"], "currency": [currency, None]}
    assert validated_catalog(raw_catalog(tariffs=tariffs)).tariffs.get_column("currency").to_list() == [currency, "EUR"]


def test_a_bare_quote_inside_a_cell_is_text_not_the_start_of_a_quoted_field(tmp_path):
    """`Monitor 24" wide,Monitor 27" wide`: the inch marks of two cells were taken for one quoted
    field, and the row for one with fewer fields than the header."""
    articles = b'article_id,name,alt_name,unit,price_per\nA-NAT,Monitor 24" wide,Monitor 27" wide,second,60\n'
    directory = write_catalog(tmp_path / "catalog", articles=articles)
    assert load_catalog(directory).articles.select("name", "alt_name").rows() == [('Monitor 24" wide', 'Monitor 27" wide')]


@pytest.mark.parametrize(
    ("loader", "billing_cell"),
    [
        # `rating bill` (every catalog family) and `rating run` (the core, its usage modules and the pricing files)
        ("load_catalogs", ("positions", "P-1001-DATA,V-1001,M-1001,A-DATA,1,", "P-1001-DATA,V-1001,M-1001,A-DATA,-1,",
                           (2, "quantity", "-1", "greater_than_or_equal_to(0)"))),
        ("load_priced_catalog", ("modules", "M-1001,V-1001,Telephone service,2025-01-01", "M-1001,V-1001,Telephone service,2025-13-01",
                                 (2, "ordered_on", "2025-13-01", "date YYYY-MM-DD"))),
    ],
)
def test_problems_of_the_billing_and_the_pricing_files_are_listed_together(tmp_path, loader, billing_cell):
    """A problem never stops at the first error (docs/catalog.md): the pricing files' problems are not
    held back until the billing files are fixed, to be found by the next run."""
    import shutil

    from pipeline.io import billing_files, catalog_files

    directory = shutil.copytree("data/sample/catalog", tmp_path / "catalog")
    table, written, broken, (line, column, value, rule) = billing_cell
    path = directory / f"{table}.csv"
    path.write_text(path.read_text().replace(written, broken, 1))
    pricing = directory / "tariff_pricing.csv"
    pricing.write_text(pricing.read_text().replace("T-MIN,5.00,", "T-MIN,five,", 1))
    load = getattr(billing_files, loader, None) or getattr(catalog_files, loader)
    with pytest.raises(CatalogError) as caught:
        load(directory)
    assert caught.value.errors.rows() == [
        (str(path), line, column, value, rule),
        (str(pricing), 2, "min_revenue", "five", "decimal number with at most 12 digits before the point and 6 after it"),
    ]


def test_a_long_value_is_shown_cut_so_the_rule_stays_in_sight():
    """A cell of 5,000 characters (a text pasted into the wrong column) printed whole buried the rule."""
    rule = "str_matches('^[1-9][0-9]{0,14}$')"
    assert problem_text("zones.csv", 2, "prefix", "4" * 5000, rule) == (
        f"zones.csv:2: column 'prefix': value '{'4' * 60}…' (5000 characters) breaks rule {rule}"
    )
    assert problem_text("zones.csv", 2, "prefix", "4" * 61, rule) == f"zones.csv:2: column 'prefix': value '{'4' * 61}' breaks rule {rule}"
