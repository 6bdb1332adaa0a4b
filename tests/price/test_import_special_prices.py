"""`rating import-special-prices FILE`: validate everything, then replace the named contracts' rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli_pricing import register

SAMPLE = Path("data/sample/catalog")


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(SAMPLE, target)
    pl.DataFrame(
        {"contract_id": ["V-1001", "V-1002"], "kind": ["friends", "net"], "number": ["4312345678", "4366"], "price": ["0.0100", "0.0200"]}
    ).write_csv(target / "special_prices.csv")
    return target


def invoke(catalog: Path, file: Path):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["import-special-prices", str(file), "--catalog", str(catalog)], env={"COLUMNS": "300"})


def test_import_replaces_the_special_prices_of_the_contracts_in_the_file(catalog: Path, tmp_path: Path):
    file = tmp_path / "friends.csv"
    file.write_text("contract_id,kind,number,number_to,price\nV-1001,friends,4369912345,,0.0050\nV-1001,net,4312340000,4312349999,0.0150\n")
    result = invoke(catalog, file)
    assert result.exit_code == 0, result.output
    assert "imported 2 special prices for 1 contracts" in result.output
    assert "(2 rows new or changed, 1 earlier rows of those contracts gone; 1 rows of other contracts kept)" in result.output
    stored = pl.read_csv(catalog / "special_prices.csv", infer_schema=False)
    assert stored.select("contract_id", "kind", "number", "number_to", "price").rows() == [
        ("V-1001", "friends", "4369912345", None, "0.0050"),
        ("V-1001", "net", "4312340000", "4312349999", "0.0150"),
        ("V-1002", "net", "4366", None, "0.0200"),  # another contract keeps its rows
    ]


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("contract_id,kind,number,price\nV-9999,friends,4312345678,0.01\n", "must exist in"),
        ("contract_id,kind,number,price\nV-1001,cousins,4312345678,0.01\n", "isin"),
        ("contract_id,kind,number,price\nV-1001,friends,+43 1 234,0.01\n", "str_matches"),
        ("contract_id,kind,number,price\nV-1001,friends,4312345678,cheap\n", "decimal number"),
        ("contract,kind,number,price\nV-1001,friends,4312345678,0.01\n", "unknown column"),
        ("", "bad.csv 1 the file is empty: it needs its header line"),
        ("contract_id;kind;number;price\nV-1001;friends;4312345678;0.01\n",
         "bad.csv 1 the header is one column 'contract_id;kind;number;price': the delimiter must be a comma"),
        ("contract_id,kind,number,price\nV-1001,friends,4312345678,0.01,x\n", "bad.csv 2 more fields than the header's 4 columns"),
    ],
)
def test_a_bad_file_is_reported_row_by_row_and_nothing_is_imported(catalog: Path, tmp_path: Path, content, shown):
    before = (catalog / "special_prices.csv").read_text()
    file = tmp_path / "bad.csv"
    file.write_text(content)
    result = invoke(catalog, file)
    assert result.exit_code == 1
    shown_cells = " ".join(result.output.replace("│", " ").split())
    assert shown in shown_cells and "nothing was imported" in result.output
    assert (catalog / "special_prices.csv").read_text() == before


def test_importing_the_same_file_again_changes_nothing_and_says_so(catalog: Path, tmp_path: Path):
    file = tmp_path / "friends.csv"
    file.write_text("contract_id,kind,number,number_to,price\nV-1001,friends,4369912345,,0.0050\n")
    assert invoke(catalog, file).exit_code == 0
    before = (catalog / "special_prices.csv").read_bytes()
    again = invoke(catalog, file)
    assert again.exit_code == 0, again.output
    assert "nothing changed: " in again.output and "already holds exactly these 1 special prices of 1 contracts" in again.output
    assert (catalog / "special_prices.csv").read_bytes() == before


def test_every_problem_of_an_import_file_is_listed_at_once(catalog: Path, tmp_path: Path):
    """A bad cell in one row does not hide the unknown contract of another row."""
    file = tmp_path / "bad.csv"
    file.write_text("contract_id,kind,number,price\nV-1001,friends,4312345678,cheap\nV-9999,friends,4312345679,0.01\n")
    result = invoke(catalog, file)
    assert result.exit_code == 1
    shown_cells = " ".join(result.output.replace("│", " ").split())
    assert "2 problems: nothing was imported" in shown_cells
    assert "bad.csv 2 price cheap decimal number with at most 12 digits before the point and 6 after it" in shown_cells
    assert "bad.csv 3 contract_id V-9999 must exist in contracts.contract_id" in shown_cells


@pytest.mark.parametrize(
    "content",
    [
        "contract_id,kind,number,price\nV-1001 ,friends,4312345678,0.0200\n",  # aligned by hand
        "contract_id,kind,number,price\n V-1001,friends , 4312345678 ,0.0200\n",
    ],
)
def test_cells_with_blanks_replace_the_contracts_rows_as_the_same_cells_without_them(catalog: Path, tmp_path: Path, content):
    """Cells are read without their blanks (docs/catalog.md): `V-1001 ` is contract V-1001, whose earlier row
    is replaced, not kept beside the new one (two prices of one friends number: an invalid catalog)."""
    file = tmp_path / "friends.csv"
    file.write_text(content)
    result = invoke(catalog, file)
    assert result.exit_code == 0, result.output
    assert "(1 rows new or changed, 1 earlier rows of those contracts gone; 1 rows of other contracts kept)" in result.output
    stored = pl.read_csv(catalog / "special_prices.csv", infer_schema=False)
    assert stored.select("contract_id", "kind", "number", "price").rows() == [
        ("V-1001", "friends", "4312345678", "0.0200"),
        ("V-1002", "net", "4366", "0.0200"),
    ]


def test_import_waits_for_a_catalog_change_in_progress_and_keeps_it(catalog: Path, tmp_path: Path):
    """An import read special_prices.csv without the catalog's edit lock, so a change made meanwhile
    (another import, a `rating delete-account` removing a contract's rows) was overwritten by its
    write (crash audit: two imports started together kept one of them)."""
    import threading

    from pipeline.io.billing_files import catalog_lock

    file = tmp_path / "friends.csv"
    file.write_text("contract_id,kind,number,number_to,price\nV-1001,friends,4369912345,,0.0050\n")
    results = []
    path = catalog / "special_prices.csv"
    with catalog_lock(catalog):  # another command changing the catalog, read to write: V-1003's net prefix
        before = path.read_text()
        importing = threading.Thread(target=lambda: results.append(invoke(catalog, file)))
        importing.start()
        importing.join(timeout=1)
        path.write_text(before + "V-1003,net,4930,0.0300\n")
    importing.join(timeout=30)
    assert results[0].exit_code == 0, results[0].output
    stored = pl.read_csv(catalog / "special_prices.csv", infer_schema=False)
    assert stored.select("contract_id", "number", "price").rows() == [
        ("V-1001", "4369912345", "0.0050"),
        ("V-1002", "4366", "0.0200"),
        ("V-1003", "4930", "0.0300"),
    ]
