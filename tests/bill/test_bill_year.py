"""A year of monthly billing runs: each billing type and each interval, units and amounts per run."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

import billing_factory as f

MONTHS = [f.ym(2026, m) for m in range(1, 13)]

#: case → (position row, article, expected units on each of the 12 monthly invoices)
CASES: dict[str, tuple[tuple, list[int]]] = {
    "one_time": (("P-ONCE", "C1", "SETUP", "one_time", None, None, None), [1] + [0] * 11),
    "every_time": (("P-EVERY", "C1", "TRANSFER", "every_time", None, None, None), [1] * 12),
    "monthly": (("P-M", "C1", "FEE", "recurring", "monthly", None, None), [1] * 12),
    "every_2_months": (("P-2M", "C1", "FEE", "recurring", "every_n_months", None, None, "1", "2"), [1, 0] * 6),
    "quarterly": (("P-Q", "C1", "FEE", "recurring", "quarterly", None, None), [1, 0, 0] * 4),
    "quarterly_x3": (("P-Q3", "C1", "FEE", "recurring", "quarterly_x3", None, None), [3, 0, 0] * 4),
    "half_yearly": (("P-H", "C1", "FEE", "recurring", "half_yearly", None, None), [1, 0, 0, 0, 0, 0] * 2),
    "half_yearly_x6": (("P-H6", "C1", "FEE", "recurring", "half_yearly_x6", None, None), [6, 0, 0, 0, 0, 0] * 2),
    "yearly": (("P-Y", "C1", "RENT", "recurring", "yearly", None, None), [1] + [0] * 11),
    "yearly_x12": (("P-Y12", "C1", "FEE", "recurring", "yearly_x12", None, None), [12] + [0] * 11),
    "future": (("P-FUT", "C1", "FEE", "recurring", "future", None, None), [0] * 12),
    "never": (("P-NEV", "C1", "FEE", "recurring", "never", None, None), [0] * 12),
    "external": (("P-EXT", "C1", "FEE", "recurring", "external", None, None), [0] * 12),
    "variable_fixed": (("P-FIX", "C1", "BOOK", "variable_fixed", None, None, None), [2] * 12),
}

#: case → expected net amount on each invoice where it appears (list price, quantity 1)
AMOUNTS = {
    "one_time": Decimal("99.00"), "every_time": Decimal("1.50"), "monthly": Decimal("10.00"),
    "every_2_months": Decimal("10.00"), "quarterly": Decimal("10.00"), "quarterly_x3": Decimal("30.00"),
    "half_yearly": Decimal("10.00"), "half_yearly_x6": Decimal("60.00"), "yearly": Decimal("120.00"),
    "yearly_x12": Decimal("120.00"), "variable_fixed": Decimal("5.00"),
}


def usage_of_the_year() -> list[dict]:
    """Each month: one 60 s call (rated 0.06) and two e-books (rated 3.00 each, fixed at 2.50)."""
    rows = []
    for m in range(1, 13):
        day = datetime(2026, m, 10, 12, tzinfo=timezone.utc)
        rows.append({"record_key": f"call-{m}", "contract_id": "C1", "start_time": day, "quantity": 60, "amount": Decimal("0.060000")})
        for n in (1, 2):
            rows.append({
                "record_key": f"book-{m}-{n}", "contract_id": "C1", "start_time": day, "quantity": 1,
                "amount": Decimal("3.000000"), "article_id": "BOOK", "unit": "event", "price": Decimal("3.000000"),
                "price_per": 1, "duration_s": None,
            })
    return rows


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> tuple[pl.DataFrame, pl.DataFrame]:
    warehouse = tmp_path_factory.mktemp("year")
    cat, bil = f.catalogs(billing={
        "positions": f.positions([row for row, _ in CASES.values()]),
        "position_prices": {"position_id": ["P-FIX"], "kind": ["price"], "price": ["2.50"], "valid_from": [None],
                            "valid_until": [None], "reason": [None]},
    })
    f.store_rated(warehouse, f.rated(usage_of_the_year()))
    for period in MONTHS:
        f.bill(warehouse, cat, bil, period=period)
    items = f.stored(warehouse, "invoice_items").join(f.stored(warehouse, "invoices").select("invoice_id", "period"), on="invoice_id", suffix="_run")
    return items, f.stored(warehouse, "billing_history")


@pytest.mark.parametrize("case", list(CASES))
def test_units_per_monthly_run(year, case: str) -> None:
    items, _ = year
    (row, expected) = CASES[case]
    units = [
        items.filter((pl.col("period_run") == period) & (pl.col("position_id") == row[0]))["quantity"].sum()
        for period in MONTHS  # twelve runs, not records
    ]
    assert units == expected


@pytest.mark.parametrize("case", list(AMOUNTS))
def test_amount_per_appearance(year, case: str) -> None:
    items, _ = year
    row = CASES[case][0]
    amounts = set(items.filter(pl.col("position_id") == row[0])["net_amount"].to_list())
    assert amounts == {AMOUNTS[case]}


def test_usage_is_billed_each_month_at_its_rated_amount(year) -> None:
    items, _ = year
    calls = items.filter(pl.col("article_id") == "CALL").select("period_run", "period", "records", "quantity", "net_amount", "billing_type")
    assert calls.to_dict(as_series=False) == {
        "period_run": MONTHS, "period": MONTHS, "records": [1] * 12, "quantity": [60] * 12,
        "net_amount": [Decimal("0.06")] * 12, "billing_type": ["variable"] * 12,
    }


def test_every_invoice_is_numbered_without_gaps(year) -> None:
    items, _ = year
    assert items["invoice_id"].unique().sort().to_list() == [f"INV-{n:06d}" for n in range(1, 13)]


def test_no_period_is_billed_twice(year) -> None:
    _, history = year
    recurring = history.filter(pl.col("billing_type") == "recurring")
    assert recurring.select("position_id", "period_start").is_duplicated().sum() == 0
    assert recurring.group_by("position_id").agg(pl.len()).sort("position_id").to_dict(as_series=False) == {
        "position_id": ["P-2M", "P-H", "P-H6", "P-M", "P-Q", "P-Q3", "P-Y", "P-Y12"],
        "len": [6, 2, 2, 12, 4, 4, 1, 1],
    }
