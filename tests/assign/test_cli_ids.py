"""`rating id-search`, `rating import-ids` and `rating unassigned` on a throwaway Typer app."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from pipeline.assign.report import top_unassigned
from pipeline.assign.search import id_matches
from pipeline.cli_ids import register
from pipeline.io import warehouse
from pipeline.io.catalog_files import load_catalog
from pipeline.job import rate
from tests.factory import at, catalog, raw_catalog, usage

DEVICE_IDS = {
    "contract_id": ["K-SEC", "K-MIN", "K-SEC", "K-MIN"],
    "id_type": ["phone", "phone", "phone", "ipv4"],
    "id_value": ["4331681", "4331681555", "4331681555", "167.112.17.42"],
    "id_to": [None, None, None, "167.112.17.45"],
    "valid_from": [None, None, "2026-10-15 00:00:00", None],
    "valid_until": [None, "2026-10-15 00:00:00", None, None],
}


@pytest.fixture
def catalog_dir(tmp_path) -> Path:
    """The factory catalog with DEVICE_IDS, written as CSV files (the import files of a test go beside it)."""
    directory = tmp_path / "catalog"
    directory.mkdir()
    for name, table in raw_catalog(device_ids=DEVICE_IDS).items():
        table.frame.drop("_line").write_csv(directory / f"{name}.csv")
    return directory


def run(*args: str):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


@pytest.mark.parametrize(
    ("identifier", "when", "rows"),
    [
        # the number moved at 2026-10-15 00:00:00: each side of the second
        ("4331681555", "2026-10-14 23:59:59", [(3, "K-MIN", "exact", True, True), (4, "K-SEC", "exact", False, False), (2, "K-SEC", "head-data", True, False)]),
        ("4331681555", "2026-10-15 00:00:00", [(3, "K-MIN", "exact", False, False), (4, "K-SEC", "exact", True, True), (2, "K-SEC", "head-data", True, False)]),
        ("+43 316 81 555 12", "2026-10-20", [(3, "K-MIN", "head-data", False, False), (4, "K-SEC", "head-data", True, True), (2, "K-SEC", "head-data", True, False)]),
        ("167.112.17.44", "2026-10-20", [(5, "K-MIN", "range", True, True)]),
        ("167.112.17.46", "2026-10-20", []),
    ],
)
def test_id_matches_lists_every_covering_id_most_specific_first(identifier, when, rows):
    matches = id_matches(catalog(device_ids=DEVICE_IDS).device_ids, identifier, at(when) if " " in when else datetime.fromisoformat(when).replace(tzinfo=timezone.utc))
    assert matches.select("line", "contract_id", "match", "valid_at", "wins").rows() == rows


RANGE_IN_PREFIX = {
    "contract_id": ["K-MIN", "K-SEC"],
    "id_type": ["phone", "phone"],
    "id_value": ["4930", "4930123400"],
    "id_to": [None, "4930123499"],
    "valid_from": [None, None],
    "valid_until": [None, None],
}


@pytest.mark.parametrize(
    ("identifier", "lines", "rows"),
    [
        ("4930123410", [2, 3], [(3, "K-SEC", "range", True, True), (2, "K-MIN", "head-data", True, False)]),
        ("493012341077", [2, 3], [(3, "K-SEC", "range", True, True), (2, "K-MIN", "head-data", True, False)]),
        # 9 digits between the range's ends (4930123410 > 493012341 > 4930123400): not in the range
        ("493012341", [2, 3], [(2, "K-MIN", "head-data", True, True)]),
        ("493012349", [2, 3], [(2, "K-MIN", "head-data", True, True)]),
        ("493012341", [3], []),
        ("4930123410", [3], [(2, "K-SEC", "range", True, True)]),
    ],
)
def test_id_matches_a_phone_range_holds_no_shorter_number(identifier, lines, rows):
    ids = {column: [values[line - 2] for line in lines] for column, values in RANGE_IN_PREFIX.items()}
    matches = id_matches(catalog(device_ids=ids).device_ids, identifier, at("2026-10-20 10:00:00"), "phone")
    assert matches.select("line", "contract_id", "match", "valid_at", "wins").rows() == rows


@pytest.mark.parametrize(
    ("blocks", "rows"),
    [
        # ::/0 and ::/1: hi - lo of half the IPv6 space or more leaves 127 bits; still the widest
        (("::/0", "2001:db8::/32"), [(3, "K-SEC", "cidr", True, True), (2, "K-MIN", "cidr", True, False)]),
        (("::/1", "2001:db8::/32"), [(3, "K-SEC", "cidr", True, True), (2, "K-MIN", "cidr", True, False)]),
        (("2001::/16", "2001:db8::/32"), [(3, "K-SEC", "cidr", True, True), (2, "K-MIN", "cidr", True, False)]),
    ],
)
def test_id_matches_put_the_widest_ipv6_blocks_last(blocks, rows):
    ids = {"contract_id": ["K-MIN", "K-SEC"], "id_type": ["ipv6", "ipv6"], "id_value": list(blocks), "id_to": [None, None],
           "valid_from": [None, None], "valid_until": [None, None]}  # fmt: skip
    matches = id_matches(catalog(device_ids=ids).device_ids, "2001:db8::1", at("2026-10-20 10:00:00"))
    assert matches.select("line", "contract_id", "match", "valid_at", "wins").rows() == rows


def test_id_search_names_the_contract_the_matching_id_the_kind_of_match_and_the_validity(catalog_dir):
    result = run("id-search", "4331681555", "--at", "2026-10-14 23:59:59", "--catalog", str(catalog_dir))
    assert result.exit_code == 0, result.output
    assert "4331681555 is assigned to contract K-MIN at 2026-10-14 23:59:59 UTC: phone ID 4331681555 (exact match, device_ids.csv line 3)" in result.output
    assert "2026-10-15 00:00:00" in result.output  # the validity end is shown


#: The assignment audit's catalog: a phone prefix, a longer phone number, the same digits as a
#: string ID, and a phone number whose digits are those of an IPv4 address; a phone number that
#: ended in 2025 whose digits are also a string ID.
TYPES_APART = {
    "contract_id": ["K-SEC", "K-MIN", "K-SEC", "K-MIN", "K-MIN", "K-SEC"],
    "id_type": ["phone", "phone", "string", "phone", "phone", "string"],
    "id_value": ["43", "43316812724", "4331681272420", "1671121742", "4930123400", "4930123400"],
    "id_to": [None] * 6, "valid_from": [None] * 6, "valid_until": [None] * 4 + ["2025-06-01 00:00:00", None],
}  # fmt: skip


@pytest.mark.parametrize(
    ("identifier", "said"),
    [
        # a phone record goes to the longer number, a string record to the string ID: each is said
        ("4331681272420", ["a phone record of 4331681272420 is assigned to contract K-MIN", "a string record of 4331681272420 is assigned to contract K-SEC"]),
        ("+43 (0)316 812724", ["+43 (0)316 812724 is assigned to contract K-MIN"]),  # read as ingestion reads it: 43316812724
        # the string ID is valid, the phone ID ended: a phone record of it is unassigned, and that is said too
        ("4930123400", ["a string record of 4930123400 is assigned to contract K-SEC",
                        "a phone record of 4930123400 matches device IDs, but none is valid at"]),  # fmt: skip
    ],
)
def test_id_search_says_the_contract_of_each_id_type_the_identifier_parses_as(tmp_path, identifier, said):
    directory = tmp_path / "catalog"
    directory.mkdir()
    for name, table in raw_catalog(device_ids=TYPES_APART).items():
        table.frame.drop("_line").write_csv(directory / f"{name}.csv")
    output = " ".join(run("id-search", identifier, "--catalog", str(directory)).output.split())
    assert [s in output for s in said] == [True] * len(said), output


def test_id_search_names_the_file_line_after_a_blank_line(catalog_dir):
    path = catalog_dir / "device_ids.csv"
    header, first, *rest = path.read_text().splitlines(keepends=True)
    path.write_text(header + first + "\n" + "".join(rest))  # a blank line 3: the ID of 4331681555 moves to line 4
    result = run("id-search", "4331681555", "--at", "2026-10-14 23:59:59", "--catalog", str(catalog_dir))
    assert "(exact match, device_ids.csv line 4)" in result.output, result.output


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (("--type", "phonee"), 2, "'phonee' is not one of 'phone', 'ipv4', 'ipv6', 'mac', 'string'"),
        (("--type", "ipv4"), 1, "no device ID matches '4331681555' as ipv4"),
    ],
)
def test_id_search_takes_only_a_known_id_type(catalog_dir, args, exit_code, message):
    result = run("id-search", "4331681555", *args, "--catalog", str(catalog_dir))
    assert result.exit_code == exit_code
    assert message in " ".join(result.output.replace("│", " ").split())


def test_id_search_in_an_unreadable_catalog_names_the_file_without_a_traceback(catalog_dir):
    (catalog_dir / "contracts.csv").write_bytes(b"contract_id;customer_id;tariff_id;start_date\n")
    result = run("id-search", "4331681555", "--catalog", str(catalog_dir))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert f"error: {catalog_dir}/contracts.csv:1: the header is one column 'contract_id;customer_id;tariff_id;start…': the delimiter must be a comma" in " ".join(result.output.split())


def test_id_search_of_an_unknown_id_says_so(catalog_dir):
    result = run("id-search", "4999", "--catalog", str(catalog_dir))
    assert result.exit_code == 1
    assert "no device ID matches '4999'" in result.output


def test_import_ids_from_a_text_file_adds_every_id(catalog_dir, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("# new numbers of K-MIN\n49301111\n\n49302000 49302999\n")
    result = run("import-ids", str(ids), "--contract", "K-MIN", "--catalog", str(catalog_dir))
    assert result.exit_code == 0, result.output
    assert "imported 2 device ID(s)" in result.output
    added = load_catalog(catalog_dir).device_ids.tail(2)
    assert added.select("contract_id", "id_type", "id_value", "id_to").rows() == [
        ("K-MIN", "phone", "49301111", None),
        ("K-MIN", "phone", "49302000", "49302999"),
    ]
    again = run("import-ids", str(ids), "--contract", "K-MIN", "--catalog", str(catalog_dir))
    assert "imported 0 device ID(s)" in again.output and "(2 already in the catalog)" in again.output


def test_import_ids_compares_string_ids_by_their_text(catalog_dir, tmp_path):
    """A string ID was keyed by its rank in its own file, so SIM-2 (first in the file) equalled the
    catalog's first string ID and was skipped as already there (assignment audit)."""
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("SIM-1\n")
    second.write_text("SIM-2\n")
    imports = [run("import-ids", str(f), "--contract", "K-MIN", "--type", "string", "--catalog", str(catalog_dir)).output
               for f in (first, second, second)]  # fmt: skip
    assert ["imported 1 device ID(s)" in imports[0], "imported 1 device ID(s)" in imports[1],
            "imported 0 device ID(s)" in imports[2]] == [True, True, True], imports  # fmt: skip
    strings = load_catalog(catalog_dir).device_ids.filter(pl.col("id_type") == "string")
    assert strings.get_column("id_value").to_list() == ["SIM-1", "SIM-2"]


@pytest.mark.parametrize(
    ("text", "rows", "problem"),
    [
        ("SIM#1\nSIM#2  # two SIMs\n", [("SIM#1", None), ("SIM#2", None)], None),  # a # inside an ID is no comment
        ("49301000  49301099\n", [("49301000", "49301099")], None),  # blanks of any width between FROM and TO
        ("49301000 49301099 49301199\n", [], "ids.txt:1: column 'id_to': value '49301099 49301199' breaks rule id_to is"),  # never dropped
        # two IDs, lines ended by CR alone (old Mac text): was imported as the range 49301000-49301099 (100 numbers)
        ("49301000\r49301099\r", [], "ids.txt:1: lines end in a carriage return alone (old Mac text): save the file with LF or CRLF"),
        # a line break no CSV reader ends a line at is no blank between FROM and TO
        ("49301000\u202849301099\n", [], "ids.txt:1: column 'id_value': value '49301000\\u202849301099' breaks rule"),
        ("49301000\r49301099\n", [], "ids.txt:1: column 'id_value': value '49301000\\r49301099' breaks rule"),
        ("49301000\u00a049301099\n", [("49301000", "49301099")], None),  # a no-break space is a blank
    ],
)
def test_import_ids_reads_a_list_of_ids_as_written(catalog_dir, tmp_path, text, rows, problem):
    ids = tmp_path / "ids.txt"
    ids.write_text(text)
    id_type = "string" if "SIM" in text else "phone"
    result = run("import-ids", str(ids), "--contract", "K-MIN", "--type", id_type, "--catalog", str(catalog_dir))
    added = load_catalog(catalog_dir).device_ids.filter(pl.col("id_value").is_in([r[0] for r in rows]))
    assert added.select("id_value", "id_to").rows() == rows
    assert (problem in result.output) if problem else result.exit_code == 0, result.output


def test_import_ids_from_csv_with_contracts_and_validity(catalog_dir, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text(
        "contract_id,id_type,id_value,valid_from,valid_until\n"
        "K-SEC,mac,00-1A-2B-3C-4D-5E,2026-11-01,\n"
        "K-MIN,ipv6,2001:db8:17::/48,,\n"
    )
    result = run("import-ids", str(ids), "--catalog", str(catalog_dir))
    assert result.exit_code == 0, result.output
    cat = load_catalog(catalog_dir)
    assert cat.device_ids.tail(2).select("contract_id", "id_type", "id_value", "valid_from").rows() == [
        ("K-SEC", "mac", "00-1A-2B-3C-4D-5E", at("2026-11-01 00:00:00")),
        ("K-MIN", "ipv6", "2001:db8:17::/48", None),
    ]


@pytest.mark.parametrize(
    ("content", "options", "messages"),
    [
        # one ID conflicts with the catalog, one is fine: neither is imported
        ("49301111\n4331681555\n", ("--contract", "K-MIN"), ["ids.txt:2", "phone ID 4331681555 is on contract K-SEC (", "and on contract K-MIN ("]),
        # two rows of the file clash with each other
        ("contract_id,id_value\nK-MIN,49301111\nK-SEC,49301111\n", (), ["phone ID 49301111 is on contract K-MIN (", "ids.txt:2) and on contract K-SEC (", "ids.txt:3)"]),
        ("contract_id,id_value\nK-NONE,49301111\n", (), ["ids.txt:2: column 'contract_id': value 'K-NONE' breaks rule must exist in contracts.contract_id"]),
        ("49301111\n+4930\n", ("--contract", "K-MIN"), ["ids.txt:2: column 'id_value': value '+4930' breaks rule id_value is"]),
        # a comment line after the header is no row, and the lines after it keep their numbers
        ("contract_id,id_value\n# ticket 123\nK-MIN,49301111\nK-MIN,+4930\n", (), ["ids.txt:4: column 'id_value': value '+4930' breaks rule id_value is"]),
        ("49301111\n", (), ["give the contract they belong to with --contract"]),
        # a first line with a comma or semicolon makes the file a CSV file: it needs the header, and
        # is never read as a list of IDs (its header line imported as a string ID)
        ("contract,idvalue\nK-MIN,abc\n", ("--contract", "K-MIN", "--type", "string"),
         ["ids.txt:1: a CSV import needs a header with an id_value column (found: contract, idvalue); "
          "the columns are those of device_ids.csv", "nothing imported: "]),
        ("# numbers\n4930,4931\n", ("--contract", "K-MIN"), ["ids.txt:2: a CSV import needs a header with an id_value column (found: 4930, 4931)"]),
        ("contract_id;id_value\nK-MIN;49301111\n", ("--contract", "K-MIN", "--type", "string"),
         ["ids.txt:1: the header is one column 'contract_id;id_value': the delimiter must be a comma"]),
        ("contract_id,id_value\nK-MIN,49301111,x\n", (), ["ids.txt:2: more fields than the header's 2 columns"]),
        (b"contract_id,id_value\nK-MIN,4930\xe9\n", (), ["ids.txt:2: not UTF-8 text (byte 0xE9): save the file as UTF-8"]),
        ("", ("--contract", "K-MIN"), ["ids.txt:1: the file is empty: no IDs to import"]),
    ],
)
def test_import_ids_never_applies_half_an_import(catalog_dir, tmp_path, content, options, messages):
    ids = tmp_path / "ids.txt"
    ids.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = (catalog_dir / "device_ids.csv").read_bytes()
    result = run("import-ids", str(ids), *options, "--catalog", str(catalog_dir))
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    for message in messages:
        assert message in output
    assert (catalog_dir / "device_ids.csv").read_bytes() == before
    # no temporary file left (the edit lock may stay, as after a lifecycle command)
    assert sorted(p.name for p in catalog_dir.iterdir() if p.name.startswith(".") and p.name != ".catalog.lock") == []


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x85"], ids=["line-separator", "form-feed", "next-line"])
def test_import_ids_counts_lines_as_the_file_has_them(catalog_dir, tmp_path, separator):
    """Only LF (or CR LF) ends a line: a U+2028 pasted into a comment neither makes an ID of the
    comment's rest nor moves the line numbers of the IDs after it."""
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# from the ticket{separator} continued\n49301111\n+4930\n")
    result = run("import-ids", str(ids), "--contract", "K-MIN", "--catalog", str(catalog_dir))
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("error: ") and "column" in line]
    assert [p.split(" breaks rule")[0] for p in problems] == [f"error: {ids}:3: column 'id_value': value '+4930'"]


def test_import_ids_names_the_lines_without_a_contract(catalog_dir, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("contract_id,id_value\nK-MIN,49301111\n,49301112\nK-MIN,49301113\n  ,49301114\n")
    result = run("import-ids", str(ids), "--catalog", str(catalog_dir))
    assert result.exit_code == 1
    assert " ".join(result.output.split()) == (
        f"error: {ids}: lines 3, 5 have no contract_id: fill the column or give --contract"
    )


@pytest.mark.parametrize(("name", "said"), [("nowhere.txt", "not found"), (".", "is a directory")])
def test_import_ids_of_a_file_that_is_not_there_is_a_command_line_mistake(catalog_dir, tmp_path, name, said):
    """Exit code 2, as for import-special-prices and every other path given wrong (README, "Commands")."""
    path = tmp_path / name
    result = run("import-ids", str(path), "--contract", "K-MIN", "--catalog", str(catalog_dir))
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == f"error: {path} {said}: pass the path of the file to import"


#: K-MIN ended on 30 June 2026 with its number 4331612345 left open in device_ids.csv.
ENDED = {
    "contract_id": ["K-MIN"], "id_type": ["phone"], "id_value": ["4331612345"], "id_to": [None], "valid_from": [None], "valid_until": [None],
}


@pytest.mark.parametrize(
    ("k_sec_start", "imported", "messages"),
    [
        # the number re-given to a contract that starts after the old one ended: imported
        ("2026-08-01", 1, []),
        ("2026-07-01", 1, []),
        # both contracts run on 30 June: refused, naming both rows
        ("2026-06-30", 0, ["phone ID 4331612345 is on contract K-MIN (", "device_ids.csv:2) and on contract K-SEC (", "ids.csv:2)"]),
    ],
)
def test_import_ids_takes_a_number_regiven_after_its_contract_ended(tmp_path, k_sec_start, imported, messages):
    directory = tmp_path / "catalog"
    directory.mkdir()
    contracts = {
        "contract_id": ["K-MIN", "K-SEC"], "customer_id": ["C1", "C2"], "tariff_id": ["T-MIN", "T-SEC"],
        "start_date": ["2025-01-01", k_sec_start], "end_date": ["2026-06-30", None],
    }
    for name, table in raw_catalog(contracts=contracts, device_ids=ENDED).items():
        table.frame.drop("_line").write_csv(directory / f"{name}.csv")
    ids = tmp_path / "ids.csv"
    ids.write_text("contract_id,id_value\nK-SEC,4331612345\n")
    result = run("import-ids", str(ids), "--catalog", str(directory))
    output = " ".join(result.output.split())
    assert (result.exit_code, [m in output for m in messages]) == (0 if imported else 1, [True] * len(messages)), output
    rows = load_catalog(directory).device_ids.select("contract_id", "id_value").rows()
    assert rows == [("K-MIN", "4331612345"), ("K-SEC", "4331612345")][: 1 + imported]


UNASSIGNED = pl.DataFrame(
    {
        "run_id": ["r1", "r1", "r2", "r2", "r2"],
        "id_type": ["phone", "phone", "phone", "ipv4", "phone"],
        "subscriber_id": ["4331799999", "4331799999", "4331799999", "167.112.17.46", "4999"],
        "start_time": [at("2026-10-01 10:00:00"), at("2026-10-02 10:00:00"), at("2026-10-03 10:00:00"), at("2026-10-01 00:00:00"), at("2026-10-01 00:00:00")],
        "duration_s": [60, 30, 10, None, 500],
        "volume_bytes": [None, None, None, 990_000_000, None],
        "reason": ["no device ID matches 4331799999"] * 3 + ["no device ID matches 167.112.17.46", "no device ID matches 4999"],
    }
)


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("records", [("4331799999", 3, 100, 0, 2), ("167.112.17.46", 1, 0, 990_000_000, 1), ("4999", 1, 500, 0, 1)]),  # ties: volume, then duration
        ("volume", [("167.112.17.46", 1, 0, 990_000_000, 1), ("4331799999", 3, 100, 0, 2), ("4999", 1, 500, 0, 1)]),
        ("duration", [("4999", 1, 500, 0, 1), ("4331799999", 3, 100, 0, 2), ("167.112.17.46", 1, 0, 990_000_000, 1)]),
    ],
)
def test_top_unassigned_by_count_and_volume(by, expected):
    report = top_unassigned(UNASSIGNED, top=5, by=by).with_columns(pl.col("duration_s", "volume_bytes").fill_null(0))
    assert report.select("subscriber_id", "records", "duration_s", "volume_bytes", "runs").rows() == expected


def test_rating_unassigned_reads_the_warehouse(tmp_path):
    records = usage(subscriber_id=["4331799999", "4331799999", "43316812724", "4999"], duration_s=[60, 30, 10, 5])
    result = rate(records, catalog(), "run1")
    warehouse.write_run(result.stored_tables(), tmp_path, "run1")
    assert run("unassigned", "--warehouse", str(tmp_path), "--top", "0").exit_code == 2  # at least one
    output = run("unassigned", "--warehouse", str(tmp_path), "--top", "1").output
    assert "4331799999" in output and "4999" not in output
    assert "no device ID matches 4331799999" in " ".join(output.split())


#: DEVICE_IDS and an ID for 4999 from 2026-10-15 on.
LATER = {c: v + [x] for (c, v), x in zip(DEVICE_IDS.items(), ["K-MIN", "phone", "4999", None, "2026-10-15 00:00:00", None])}


def test_the_top_unassigned_view_answers_as_rating_unassigned(tmp_path):
    """docs/assignment.md: the analyst view gives what the command does: first and last seen, runs, the latest reason."""
    import duckdb

    from pipeline.io import views

    # run1: 4999 matches no ID; run2: an ID holds it from 2026-10-15, and its call comes before
    for run_id, ids, starts in (("run1", DEVICE_IDS, ["2026-10-01 10:00:00", "2026-10-02 10:00:00"]), ("run2", LATER, ["2026-10-03 10:00:00"])):
        n = len(starts)
        records = usage(record_key=[f"{run_id}-{i}" for i in range(n)], subscriber_id=["4999"] * n, start_time=[at(s) for s in starts])
        warehouse.write_run(rate(records, catalog(device_ids=ids), run_id).stored_tables(), tmp_path, run_id)
    con = duckdb.connect(str(views.publish(tmp_path)), read_only=True)
    try:
        rows = con.sql(
            "SELECT subscriber_id, records, duration_s, strftime(first_seen, '%Y-%m-%d %H:%M:%S'),"
            " strftime(last_seen, '%Y-%m-%d %H:%M:%S'), runs, reason FROM top_unassigned"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("4999", 3, 180, "2026-10-01 10:00:00", "2026-10-03 10:00:00", 2, "no device ID for 4999 is valid at 2026-10-03 10:00:00")]
    report = top_unassigned(pl.scan_parquet(sorted((tmp_path / "unassigned").glob("*.parquet"))))
    assert report.select("subscriber_id", "records", "duration_s", "runs", "reason").rows() == [(r[0], r[1], r[2], r[5], r[6]) for r in rows]


def test_import_ids_waits_for_a_catalog_change_in_progress_and_keeps_it(catalog_dir, tmp_path):
    """Two imports at once each read device_ids.csv, added their IDs and wrote it back: the later
    write dropped the other import's IDs, though both said "imported 1 device ID(s)" (crash audit:
    two `rating import-ids` started together kept one number of two, five times out of five)."""
    import threading

    from pipeline.io.billing_files import catalog_lock

    ids = tmp_path / "ids.txt"
    ids.write_text("49301111\n")
    results = []
    path = catalog_dir / "device_ids.csv"
    with catalog_lock(catalog_dir):  # another command changing the catalog, read to write: it adds 49302222
        before = path.read_text()
        importing = threading.Thread(target=lambda: results.append(run("import-ids", str(ids), "--contract", "K-MIN", "--catalog", str(catalog_dir))))
        importing.start()
        importing.join(timeout=1)
        path.write_text(before + "K-SEC,phone,49302222,,,\n")
    importing.join(timeout=30)
    assert results[0].exit_code == 0, results[0].output
    stored = load_catalog(catalog_dir).device_ids.tail(2)
    assert stored.select("contract_id", "id_value").rows() == [("K-SEC", "49302222"), ("K-MIN", "49301111")]
