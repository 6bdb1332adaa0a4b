"""Device IDs in the catalog: values that are not IDs, and one ID on two contracts at once, fail at load time."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipeline.assign.catalog import device_id_conflicts, device_id_problems
from pipeline.catalog import CatalogError, validated_catalog
from schemas.catalog import ID_TO_RULE, ID_VALUE_RULE
from tests.factory import raw_catalog

COLUMNS = ["contract_id", "id_type", "id_value", "id_to", "valid_from", "valid_until"]


def rows(*given: tuple) -> dict[str, list]:
    return {name: [row[i] if i < len(row) else None for row in given] for i, name in enumerate(COLUMNS)}


def errors_of(*given: tuple) -> list[tuple]:
    with pytest.raises(CatalogError) as caught:
        validated_catalog(raw_catalog(device_ids=rows(*given)))
    return caught.value.errors.select("line", "column", "value", "rule").rows()


def typed(*given: tuple) -> pl.DataFrame:
    frame = pl.DataFrame(rows(*given), schema={c: pl.String for c in COLUMNS}).with_columns(
        pl.col("valid_from", "valid_until").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC")
    )
    return frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_line"))


#: The factory's contracts, typed: both run from 2025-01-01, open.
RUNNING = pl.DataFrame({"contract_id": ["K-MIN", "K-SEC"], "start_date": [dt.date(2025, 1, 1)] * 2, "end_date": [None, None]},
                       schema={"contract_id": pl.String, "start_date": pl.Date, "end_date": pl.Date})  # fmt: skip


def clash(line: int, contract: str, other: str, other_line: int) -> tuple:
    rule = f"one contract per ID at a time: the same ID is on contract {other} (device_ids.csv:{other_line}) at overlapping times within the contracts' days"
    return (line, "contract_id", contract, rule)


@pytest.mark.parametrize(
    "first, second",
    [
        (("K-MIN", "phone", "4331681555"), ("K-SEC", "phone", "4331681555")),
        # one number as a range of one is the same ID as the number
        (("K-MIN", "phone", "4331681555"), ("K-SEC", "phone", "4331681555", "4331681555")),
        # every MAC notation is the same address
        (("K-MIN", "mac", "00:1A:2B:3C:4D:5E"), ("K-SEC", "mac", "001a.2b3c.4d5e")),
        (("K-MIN", "ipv6", "2001:db8::1"), ("K-SEC", "ipv6", "2001:0db8:0:0::1")),
        (("K-MIN", "ipv4", "10.0.0.0/30"), ("K-SEC", "ipv4", "10.0.0.0", "10.0.0.3")),
        # validity overlaps by one second
        (("K-MIN", "phone", "4331681555", None, None, "2026-10-15 00:00:01"), ("K-SEC", "phone", "4331681555", None, "2026-10-15 00:00:00")),
    ],
)
def test_the_same_id_on_two_contracts_at_overlapping_times_is_a_catalog_error_naming_both(first, second):
    assert errors_of(first, second) == [clash(2, "K-MIN", "K-SEC", 3), clash(3, "K-SEC", "K-MIN", 2)]


@pytest.mark.parametrize(
    "first, second",
    [
        # a number that moved: the old validity ends when the new one starts (until is exclusive)
        (("K-MIN", "phone", "4331681555", None, None, "2026-10-15 00:00:00"), ("K-SEC", "phone", "4331681555", None, "2026-10-15 00:00:00")),
        # nested IDs are no conflict: the most specific wins
        (("K-MIN", "phone", "4331681"), ("K-SEC", "phone", "4331681555")),
        (("K-MIN", "ipv4", "10.0.0.0/24"), ("K-SEC", "ipv4", "10.0.0.0/25")),
        # the same ID twice on one contract
        (("K-MIN", "phone", "4331681555"), ("K-MIN", "phone", "4331681555")),
        # the same text as different types
        (("K-MIN", "string", "4331681555"), ("K-SEC", "phone", "4331681555")),
    ],
)
def test_ids_that_do_not_clash_load(first, second):
    validated_catalog(raw_catalog(device_ids=rows(first, second)))


def test_a_conflict_is_reported_pairwise_with_both_contracts_and_lines():
    pairs = device_id_conflicts(
        typed(
            ("K-MIN", "phone", "4331681555", None, None, "2026-10-16 00:00:00"),
            ("K-MIN", "phone", "4331681"),
            ("K-SEC", "phone", "4331681555", None, "2026-10-15 00:00:00"),
        ),
        RUNNING,
    )
    assert pairs.select("line", "contract_id", "other_line", "other_contract_id", "message").rows() == [
        (
            2, "K-MIN", 4, "K-SEC",
            "phone ID 4331681555 is on contract K-MIN (device_ids.csv:2) and on contract K-SEC (device_ids.csv:4) "
            "at overlapping times within the contracts' days: end one's validity (or its contract) before the other's starts",
        )
    ]
    problems = device_id_problems(typed(("K-MIN", "mac", "00:1a:2b:3c:4d:5e"), ("K-SEC", "mac", "00-1A-2B-3C-4D-5E")), RUNNING)
    assert problems.select("line", "column", "value", "rule").rows() == [clash(2, "K-MIN", "K-SEC", 3), clash(3, "K-SEC", "K-MIN", 2)]


@pytest.mark.parametrize(
    ("row", "column", "value", "rule"),
    [
        (("K-MIN", "phone", "+43316812724"), "id_value", "+43316812724", ID_VALUE_RULE),
        (("K-MIN", "phone", "0316812724"), "id_value", "0316812724", ID_VALUE_RULE),
        (("K-MIN", "ipv4", "167.112.17.256"), "id_value", "167.112.17.256", ID_VALUE_RULE),
        (("K-MIN", "ipv4", "10.0.0.5/24"), "id_value", "10.0.0.5/24", ID_VALUE_RULE),
        (("K-MIN", "ipv6", "2001:db8::17::1"), "id_value", "2001:db8::17::1", ID_VALUE_RULE),
        (("K-MIN", "mac", "00:1a:2b:3c:4d"), "id_value", "00:1a:2b:3c:4d", ID_VALUE_RULE),
        (("K-MIN", "phone", "4930123400", "493012349"), "id_to", "493012349", ID_TO_RULE),
        (("K-MIN", "ipv4", "10.0.0.9", "10.0.0.1"), "id_to", "10.0.0.1", ID_TO_RULE),
        (("K-MIN", "string", "SIM-1", "SIM-9"), "id_to", "SIM-9", ID_TO_RULE),
        (("K-MIN", "phone", "4331", None, "2026-10-02 00:00:00", "2026-10-01 00:00:00"), "valid_until", "2026-10-01 00:00:00", "valid_until after valid_from"),
    ],
)
def test_a_value_that_is_not_an_id_of_its_type_is_a_catalog_error(row, column, value, rule):
    errors = errors_of(row)
    assert [(line, col, rule_) for line, col, _, rule_ in errors] == [(2, column, rule)]
    assert str(value) in str(errors[0][2])


def contracts(k_min_end: str | None, k_sec_start: str) -> dict[str, list]:
    """K-MIN from 2025-01-01 to `k_min_end` (its last day), K-SEC from `k_sec_start`, open."""
    return {
        "contract_id": ["K-MIN", "K-SEC"], "customer_id": ["C1", "C2"], "tariff_id": ["T-MIN", "T-SEC"],
        "start_date": ["2025-01-01", k_sec_start], "end_date": [k_min_end, None],
    }


def regiven_errors(k_min_end: str | None, k_sec_start: str, *given: tuple) -> list[tuple]:
    """The catalog's problems (line, column, value, rule); none when it loads."""
    try:
        validated_catalog(raw_catalog(contracts=contracts(k_min_end, k_sec_start), device_ids=rows(*given)))
    except CatalogError as caught:
        return caught.errors.select("line", "column", "value", "rule").rows()
    return []


@pytest.mark.parametrize(
    ("k_min_end", "k_sec_start", "given", "errors"),
    [
        # the operator's case: K-MIN ended on 30 June, its row left open; the number is re-given to K-SEC from 1 August
        ("2026-06-30", "2026-08-01", [("K-MIN", "phone", "4331612345"), ("K-SEC", "phone", "4331612345", None, "2026-08-01 00:00:00")], []),
        # both rows open: each contract's days cut them apart
        ("2026-06-30", "2026-08-01", [("K-MIN", "phone", "4331612345"), ("K-SEC", "phone", "4331612345")], []),
        # the new contract starts the day after the old one's last day: end_date is inclusive, the cut exclusive
        ("2026-06-30", "2026-07-01", [("K-MIN", "phone", "4331612345"), ("K-SEC", "phone", "4331612345")], []),
        # a row whose own validity starts after its contract ended assigns nothing: it clashes with nothing
        ("2026-06-30", "2025-01-01", [("K-MIN", "phone", "4331612345", None, "2026-09-01 00:00:00"), ("K-SEC", "phone", "4331612345")], []),
        # both contracts run on 30 June: a real clash, each row naming the other
        ("2026-06-30", "2026-06-30", [("K-MIN", "phone", "4331612345"), ("K-SEC", "phone", "4331612345")],
         [clash(2, "K-MIN", "K-SEC", 3), clash(3, "K-SEC", "K-MIN", 2)]),
        # the old contract never ended: the re-given number is still on it
        (None, "2026-08-01", [("K-MIN", "phone", "4331612345"), ("K-SEC", "phone", "4331612345", None, "2026-08-01 00:00:00")],
         [clash(2, "K-MIN", "K-SEC", 3), clash(3, "K-SEC", "K-MIN", 2)]),
        # the rows' own validity overlaps inside both contracts' days (K-MIN's row ends after K-SEC's starts)
        ("2026-12-31", "2026-08-01",
         [("K-MIN", "phone", "4331612345", None, None, "2026-08-01 00:00:01"), ("K-SEC", "phone", "4331612345", None, "2026-08-01 00:00:00")],
         [clash(2, "K-MIN", "K-SEC", 3), clash(3, "K-SEC", "K-MIN", 2)]),
    ],
)
def test_one_contract_per_id_compares_each_rows_validity_within_its_contracts_days(k_min_end, k_sec_start, given, errors):
    assert regiven_errors(k_min_end, k_sec_start, *given) == errors
