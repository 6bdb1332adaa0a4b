"""sources.toml: loading, validation with messages that name the fix, and matching files to sources."""

from __future__ import annotations

import pytest

from pipeline.io.readers import Source, SourceConfigError, load_sources, source_for

SOURCES_TOML = """
[sources.pbx-graz]
format = "asterisk"
pattern = "Master*.csv*"
timezone = "Europe/Vienna"

[sources.fs-berlin]
format = "freeswitch"
pattern = "freeswitch-*.csv*"
timezone = "Europe/Berlin"
freeswitch_template = "example"

[sources.edge]
format = "nfdump"
pattern = "nfcapd.*.csv*"
nfdump_side = "dst"

[sources.partner]
format = "csv"
pattern = "partner-*.csv*"
delimiter = ";"
timestamp_format = "%d.%m.%Y %H:%M:%S"
columns = { subscriber_id = "A-Nummer", start_time = "Beginn", duration_s = "Dauer" }

[sources.export]
format = "parquet"
pattern = "*.parquet"
"""


def test_a_sources_file_loads_with_defaults_per_format(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES_TOML, encoding="utf-8")
    sources = load_sources(path)
    assert list(sources) == ["pbx-graz", "fs-berlin", "edge", "partner", "export"]
    rows = [(s.name, s.format, s.timezone, s.id_type, s.article_key) for s in sources.values()]
    assert rows == [
        ("pbx-graz", "asterisk", "Europe/Vienna", "phone", "voice"),
        ("fs-berlin", "freeswitch", "Europe/Berlin", "phone", "voice"),
        ("edge", "nfdump", "UTC", "ipv4", "data"),
        ("partner", "csv", "UTC", "phone", "voice"),
        ("export", "parquet", "UTC", "phone", "voice"),
    ]
    assert sources["fs-berlin"].freeswitch_template == "example"
    assert sources["edge"].nfdump_side == "dst"
    assert dict(sources["partner"].columns) == {"subscriber_id": "A-Nummer", "start_time": "Beginn", "duration_s": "Dauer"}
    assert sources["partner"].file_column("counterparty") == "counterparty"


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("Master.csv", "pbx-graz"),
        ("Master-20261001.csv.gz", "pbx-graz"),
        ("/var/spool/inbox/freeswitch-a.csv", "fs-berlin"),
        ("nfcapd.202610010900.csv", "edge"),
        ("partner-2026-10.csv", "partner"),
        ("usage-1.parquet", "export"),
        ("master.csv", None),
        ("notes.txt", None),
    ],
)
def test_a_file_belongs_to_the_first_source_whose_pattern_matches_its_name(tmp_path, file_name, expected):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES_TOML, encoding="utf-8")
    found = source_for(file_name, load_sources(path))
    assert (found.name if found else None) == expected


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "define at least one [sources.<name>] table"),
        ("[sources.a]\npattern = '*'", "source a: 'format' is required"),
        ("[sources.a]\nformat = 'asterisk'", "source a: 'pattern' is required"),
        ("[sources.a]\nformat = 'cisco'\npattern = '*'", "format 'cisco' is not one of asterisk, freeswitch, nfdump, csv, parquet"),
        ("[sources.a]\nformat = 'asterisk'\npattern = '*'\ntimezone = 'Europe/Wien'", "timezone 'Europe/Wien' is not an IANA time zone"),
        ("[sources.a]\nformat = 'asterisk'\npattern = '*'\ntz = 'UTC'", "unknown keys ['tz']"),
        ("[sources.a]\nformat = 'asterisk'\npattern = '*'\nasterisk_variant = '17'", "asterisk_variant '17' is not one of auto, base, uniqueid, linkedid"),
        ("[sources.a]\nformat = 'nfdump'\npattern = '*'\nnfdump_side = 'both'", "nfdump_side 'both' is not one of src, dst"),
        ("[sources.a]\nformat = 'nfdump'\npattern = '*'\nid_type = 'phone'", "id_type must be ipv4 or ipv6"),
        ("[sources.a]\nformat = 'asterisk'\npattern = '*'\ncolumns = { subscriber_id = 'x' }", "'columns' applies to csv and parquet sources only"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ncolumns = { source_file = 'x' }", "columns ['source_file'] are not canonical columns a file may provide"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ndelimiter = ';;'", "delimiter must be one character"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ndelimiter = \"\\r\"", "source a: delimiter '\\r' cannot separate fields: a line break or a quote"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ndelimiter = '\"'", "source a: delimiter '\"' cannot separate fields: a line break or a quote"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimestamp_format = '%Q'", "timestamp_format '%Q' is not a strftime format"),
        # files and a placeholder of the zone database, no zones DuckDB (which converts the times) knows
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimezone = 'localtime'", "source a: timezone 'localtime' is not an IANA time zone"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimezone = 'posixrules'", "source a: timezone 'posixrules' is not an IANA time zone"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimezone = 'Factory'", "source a: timezone 'Factory' is not an IANA time zone"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimezone = 'right/UTC'", "source a: timezone 'right/UTC' is not an IANA time zone"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimezone = 'posix/Europe/Vienna'", "source a: timezone 'posix/Europe/Vienna' is not an IANA time zone"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ntimestamp_format = '%d/%m/%Y %I:%M:%S'",
         "source a: timestamp_format '%d/%m/%Y %I:%M:%S' cannot be read: Invalid format string: Please either specify both 12-hour directive and meridiem directive, or neither."),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ncolumns = { subscriber_id = 'x', counterparty = 'x' }",
         "source a: columns subscriber_id and counterparty would both be read from file column 'x'; give each its own column"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\ncolumns = { subscriber_id = 'counterparty' }",
         "source a: columns subscriber_id and counterparty (unmapped: by its own name) would both be read from file column 'counterparty'"),
        ("[sources.a]\nformat = 'csv'\npattern = 7", "['pattern'] must be strings"),
        # keys another format reads, or empty, would be ignored without a word
        ("[sources.a]\nformat = 'asterisk'\npattern = '*'\ntimestamp_format = '%d.%m.%Y %H:%M:%S'",
         "source a: 'timestamp_format' applies to csv and parquet sources only, not asterisk: it would be ignored"),
        ("[sources.a]\nformat = 'parquet'\npattern = '*'\ndelimiter = ';'", "source a: 'delimiter' applies to csv sources only, not parquet"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\nasterisk_variant = 'base'", "source a: 'asterisk_variant' applies to asterisk sources only"),
        ("[sources.a]\nformat = 'asterisk'\npattern = '*'\nfreeswitch_template = 'default'", "'freeswitch_template' applies to freeswitch sources only"),
        ("[sources.a]\nformat = 'freeswitch'\npattern = '*'\nnfdump_side = 'dst'", "'nfdump_side' applies to nfdump sources only"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\narticle_key = ''", "source a: ['article_key'] must not be empty (leave a key out for its default)"),
        ("[sources.a]\nformat = 'csv'\npattern = '*'\nid_type = ''\ncountry = ''", "source a: ['country', 'id_type'] must not be empty"),
        ("[sources.'a:b']\nformat = 'csv'\npattern = '*'", "must not contain ':'"),
        ("[sources.a\nformat = 'csv'", "not valid TOML"),
        # a table outside [sources] is read by nothing: a misspelt one would drop its settings unseen
        ("[sources.a]\nformat = 'csv'\npattern = '*'\n[source.a.columns]\nsubscriber_id = 'A-Nummer'",
         "unknown table or key 'source' (every source is a [sources.<name>] table)"),
        ("timezone = 'Europe/Vienna'\n[sources.a]\nformat = 'csv'\npattern = '*'",
         "unknown table or key 'timezone' (every source is a [sources.<name>] table)"),
    ],
)
def test_a_bad_sources_file_says_what_to_fix(tmp_path, toml, message):
    path = tmp_path / "sources.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SourceConfigError) as caught:
        load_sources(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_timestamp_format_with_a_zone_name_loads(tmp_path):
    """%Z worked (its name skipped, the time read in `timezone`); refusing it broke such a configuration."""
    path = tmp_path / "sources.toml"
    path.write_text("[sources.a]\nformat = 'csv'\npattern = '*'\ntimestamp_format = '%Y-%m-%d %H:%M:%S %Z'\n")
    assert load_sources(path)["a"].timestamp_format == "%Y-%m-%d %H:%M:%S %Z"


def test_a_missing_sources_file_is_named(tmp_path):
    with pytest.raises(SourceConfigError, match="sources file not found"):
        load_sources(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "columns",
    [
        {"subscriber_id": "counterparty", "counterparty": "subscriber_id"},  # swapped: each file column read once
        {"subscriber_id": "A", "counterparty": "subscriber_id"},
    ],
    ids=["swapped", "to-a-free-default-name"],
)
def test_mappings_that_read_each_file_column_once_are_accepted(columns):
    assert dict(Source(name="a", format="csv", pattern="*", columns=columns).columns) == columns


def test_sources_are_values():
    a = Source(name="a", format="asterisk", pattern="*")
    assert a == Source(name="a", format="asterisk", pattern="*")
    assert hash(a) == hash(Source(name="a", format="asterisk", pattern="*"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"], ids=["utf-8", "utf-8-with-bom"])
def test_a_sources_file_saved_with_a_byte_order_mark_loads(tmp_path, encoding):
    """Windows editors (Notepad) save UTF-8 with a byte order mark, as catalog files may be saved."""
    path = tmp_path / "sources.toml"
    path.write_text("[sources.a]\nformat = 'csv'\npattern = 'Zähler-*.csv'\n", encoding=encoding)
    assert load_sources(path)["a"].pattern == "Zähler-*.csv"


def test_a_sources_file_not_in_utf8_names_the_line_and_the_byte(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_bytes("[sources.a]\nformat = 'csv'\npattern = 'Zähler-*.csv'\n".encode("latin-1"))
    with pytest.raises(SourceConfigError) as caught:
        load_sources(path)
    assert str(caught.value) == f"{path}:3: not UTF-8 text (byte 0xE4): save the file as UTF-8"
