"""Catalog validation: every problem is reported with file, line, column, value and rule."""

from __future__ import annotations

import pytest

from pipeline.catalog import CatalogError, validated_catalog
from pipeline.io.catalog_files import load_catalog
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
    ],
)
def test_a_bad_cell_names_file_line_column_value_and_rule(table, column, value, rule):
    columns = {c: list(v) for c, v in BASE_CATALOG[table].items()}
    columns[column] = [value] + columns[column][1:]
    assert errors_of(**{table: columns}) == [(f"{table}.csv", 2, column, value, rule)]


def test_a_reference_to_a_missing_customer_is_an_error():
    contracts = {c: list(v) for c, v in BASE_CATALOG["contracts"].items()}
    contracts["customer_id"] = ["C1", "C9"]
    assert errors_of(contracts=contracts) == [
        ("contracts.csv", 3, "customer_id", "C9", "must exist in customers.customer_id")
    ]


def test_an_unknown_column_is_an_error():
    zones = {**BASE_CATALOG["zones"], "colour": ["red", "blue"]}
    assert errors_of(zones=zones) == [("zones.csv", 1, "colour", None, "unknown column")]


def test_every_problem_is_listed_at_once():
    tariffs = {c: list(v) for c, v in BASE_CATALOG["tariffs"].items()}
    tariffs["first_increment_s"] = ["x", "0"]
    rows = errors_of(tariffs=tariffs)
    assert rows == [
        ("tariffs.csv", 2, "first_increment_s", "x", "type Int64"),
        ("tariffs.csv", 3, "first_increment_s", "0", "greater_than_or_equal_to(1)"),
    ]
