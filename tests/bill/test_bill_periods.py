"""Recurring periods, one table per rule: the anchor (contract start, billing_from), a price
change inside a period (override end, index date, list price, tariff change), several pauses,
one-time and every-time fees in a pause, and what `billing-state` says of intervals that never
bill (docs/billing.md)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import billing_factory as f
from pipeline import engine
from pipeline.bill.invoices import position_states
from pipeline.io.billing_store import add_billing_views, register_state

D = Decimal
LINE = ("run_period", "service_from", "service_to", "days_charged", "days_basis", "net_amount")


def fee_lines(warehouse: Path, columns: tuple[str, ...] = LINE, position: str = "P1") -> list[tuple]:
    """The position's invoice lines in billing order, with the period of the run that billed them."""
    items = f.stored(warehouse, "invoice_items").join(
        f.stored(warehouse, "invoices").select("invoice_id", pl.col("period").alias("run_period")), on="invoice_id"
    )
    lines = items.filter(pl.col("position_id") == position).sort("run_period", "service_from")
    return lines.select(pl.col(c).cast(pl.String) if c.startswith("service") else pl.col(c) for c in columns).rows()


def run_months(warehouse: Path, cat, bil, months: range) -> None:
    for m in months:  # a handful of monthly runs
        f.bill(warehouse, cat, bil, period=f.ym(2026, m))


def terms(proration: str) -> dict[str, list]:
    return {"tariff_id": ["T1"], "cancellation": ["monthly"], "term_months": [None], "notice_months": ["1"],
            "proration": [proration], "public": ["true"]}


# -- anchors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "billing_from", "interval", "expected"),
    [
        # run period, service from, service to, days charged / basis, net
        ("2026-01-15", None, "monthly", [("2026-01", "2026-01-15", "2026-02-14", 31, 31, D("10.00")),
                                         ("2026-02", "2026-02-15", "2026-03-14", 28, 28, D("10.00")),
                                         ("2026-03", "2026-03-15", "2026-04-14", 31, 31, D("10.00")),
                                         ("2026-04", "2026-04-15", "2026-05-14", 30, 30, D("10.00"))]),
        ("2026-01-15", None, "quarterly", [("2026-01", "2026-01-15", "2026-04-14", 90, 90, D("10.00")),
                                           ("2026-04", "2026-04-15", "2026-07-14", 91, 91, D("10.00"))]),
        # month ends clamp: 31 January + 1 month = 28 February, + 2 months = 31 March
        ("2026-01-31", None, "monthly", [("2026-01", "2026-01-31", "2026-02-27", 28, 28, D("10.00")),
                                         ("2026-02", "2026-02-28", "2026-03-30", 31, 31, D("10.00")),
                                         ("2026-03", "2026-03-31", "2026-04-29", 30, 30, D("10.00")),
                                         ("2026-04", "2026-04-30", "2026-05-30", 31, 31, D("10.00"))]),
        # billing_from replaces the start as anchor; nothing before it is billed
        ("2026-01-01", "2026-02-10", "monthly", [("2026-02", "2026-02-10", "2026-03-09", 28, 28, D("10.00")),
                                                 ("2026-03", "2026-03-10", "2026-04-09", 31, 31, D("10.00")),
                                                 ("2026-04", "2026-04-10", "2026-05-09", 30, 30, D("10.00"))]),
        ("2026-01-15", "2026-02-10", "quarterly", [("2026-02", "2026-02-10", "2026-05-09", 89, 89, D("10.00"))]),
    ],
    ids=["start-15th-monthly", "start-15th-quarterly", "start-31st-clamps", "billing-from-10th", "billing-from-quarterly"],
)
def test_periods_are_anchored_at_billing_from_else_the_contract_start(tmp_path, start, billing_from, interval, expected) -> None:
    billing = {"positions": f.positions([("P1", "C1", "FEE", "recurring", interval, None, None)])}
    if billing_from:
        billing["contract_terms"] = {"contract_id": ["C1"], "billing_from": [billing_from]}
    cat, bil = f.catalogs(billing=billing, contracts=f.contracts_starting(C1=start))
    run_months(tmp_path, cat, bil, range(1, 5))
    assert fee_lines(tmp_path) == expected


# -- a price change inside a period ----------------------------------------------------------

def versions(*rows: tuple) -> dict[str, list]:
    """position_prices.csv from (kind, price, valid_from, valid_until, reason) rows of P1."""
    cols = {"position_id": [], "kind": [], "price": [], "valid_from": [], "valid_until": [], "reason": []}
    for row in rows:
        for c, v in zip(cols, ("P1", *row)):
            cols[c].append(v)
    return cols


PRICED = ("run_period", "service_from", "service_to", "quantity", "unit_price", "price_source", "days_charged",
          "days_basis", "net_amount", "note")
SPLIT_Q1 = "price {} of 2 in the period 2026-01-01 to 2026-03-31"


@pytest.mark.parametrize(
    ("interval", "billing", "prices", "expected"),
    [
        # V-1002's case: a loyalty override ends inside a quarter ×3; 7.90 × 3 × 31/90 + 10.00 × 3 × 59/90
        ("quarterly_x3", {"position_prices": versions(("override", "7.90", "2026-01-01", "2026-02-01", "loyalty"))}, None,
         [("2026-01", "2026-01-01", "2026-01-31", 3, D("7.900000"), "override: loyalty", 31, 90, D("8.16"), SPLIT_Q1.format(1)),
          ("2026-01", "2026-02-01", "2026-03-31", 3, D("10.000000"), "list", 59, 90, D("19.67"), SPLIT_Q1.format(2)),
          ("2026-04", "2026-04-01", "2026-06-30", 3, D("10.000000"), "list", 91, 91, D("30.00"), None)]),
        # an index version effective 16 May: 10.00 × 45/91 + 10.32 × 46/91
        ("quarterly", {"position_prices": versions(("index", "10.32", "2026-05-16", None, None))}, None,
         [("2026-01", "2026-01-01", "2026-03-31", 1, D("10.000000"), "list", 90, 90, D("10.00"), None),
          ("2026-04", "2026-04-01", "2026-05-15", 1, D("10.000000"), "list", 45, 91, D("4.95"),
           "price 1 of 2 in the period 2026-04-01 to 2026-06-30"),
          ("2026-04", "2026-05-16", "2026-06-30", 1, D("10.320000"), "index", 46, 91, D("5.22"),
           "price 2 of 2 in the period 2026-04-01 to 2026-06-30")]),
        # the list price changes on 15 February: 10.00 × 45/90 + 12.00 × 45/90
        ("quarterly", {}, [("T1", "FEE", "10.00", None, "2026-02-15"), ("T1", "FEE", "12.00", "2026-02-15", None)],
         [("2026-01", "2026-01-01", "2026-02-14", 1, D("10.000000"), "list", 45, 90, D("5.00"), SPLIT_Q1.format(1)),
          ("2026-01", "2026-02-15", "2026-03-31", 1, D("12.000000"), "list", 45, 90, D("6.00"), SPLIT_Q1.format(2)),
          ("2026-04", "2026-04-01", "2026-06-30", 1, D("12.000000"), "list", 91, 91, D("12.00"), None)]),
        # another tariff's price change cuts nothing: one line per period
        ("quarterly", {}, [("T2", "FEE", "20.00", None, "2026-02-15"), ("T2", "FEE", "21.00", "2026-02-15", None)],
         [("2026-01", "2026-01-01", "2026-03-31", 1, D("10.000000"), "list", 90, 90, D("10.00"), None),
          ("2026-04", "2026-04-01", "2026-06-30", 1, D("10.000000"), "list", 91, 91, D("10.00"), None)]),
        # two adjacent versions at the same price and reason are one part: one line
        ("quarterly", {"position_prices": versions(("override", "8.00", "2026-01-01", "2026-02-01", "promo"),
                                                   ("override", "8.00", "2026-02-01", "2026-04-01", "promo"))}, None,
         [("2026-01", "2026-01-01", "2026-03-31", 1, D("8.000000"), "override: promo", 90, 90, D("8.00"), None),
          ("2026-04", "2026-04-01", "2026-06-30", 1, D("10.000000"), "list", 91, 91, D("10.00"), None)]),
        # paused days are deducted from the part they fall in: 8.00 × 45/90 + 10.00 × (45 − 10)/90
        ("quarterly", {"position_prices": versions(("override", "8.00", None, "2026-02-15", "launch")),
                       "pauses": {"contract_id": ["C1"], "paused_from": ["2026-03-01"], "paused_through": ["2026-03-10"]}}, None,
         [("2026-01", "2026-01-01", "2026-02-14", 1, D("8.000000"), "override: launch", 45, 90, D("4.00"), SPLIT_Q1.format(1)),
          ("2026-01", "2026-02-15", "2026-03-31", 1, D("10.000000"), "list", 35, 90, D("3.89"),
           SPLIT_Q1.format(2) + "; 10 paused days not charged"),
          ("2026-04", "2026-04-01", "2026-06-30", 1, D("10.000000"), "list", 91, 91, D("10.00"), None)]),
        # `full` still splits by days, over the active days: 8.00 × 28/59 + 10.00 × 31/59 (start 1 February)
        ("quarterly", {"tariff_terms": terms("full"),
                       "position_prices": versions(("override", "8.00", None, "2026-03-01", "launch"))}, None,
         [("2026-02", "2026-02-01", "2026-02-28", 1, D("8.000000"), "override: launch", 28, 59, D("3.80"), SPLIT_Q1.format(1)),
          ("2026-02", "2026-03-01", "2026-03-31", 1, D("10.000000"), "list", 31, 59, D("5.25"), SPLIT_Q1.format(2)),
          ("2026-04", "2026-04-01", "2026-06-30", 1, D("10.000000"), "list", 91, 91, D("10.00"), None)]),
        # regression: monthly periods and an override on month boundaries stay one line each
        ("monthly", {"position_prices": versions(("override", "8.00", "2026-02-01", "2026-03-01", "promo"))}, None,
         [("2026-01", "2026-01-01", "2026-01-31", 1, D("10.000000"), "list", 31, 31, D("10.00"), None),
          ("2026-02", "2026-02-01", "2026-02-28", 1, D("8.000000"), "override: promo", 28, 28, D("8.00"), None),
          ("2026-03", "2026-03-01", "2026-03-31", 1, D("10.000000"), "list", 31, 31, D("10.00"), None),
          ("2026-04", "2026-04-01", "2026-04-30", 1, D("10.000000"), "list", 30, 30, D("10.00"), None)]),
    ],
    ids=["override-ends-mid-quarter-x3", "index-mid-quarter", "list-price-mid-quarter", "other-tariff-no-cut",
         "equal-versions-join", "pause-in-a-part", "full-splits-by-days", "monthly-unchanged"],
)
def test_a_period_spanning_a_price_change_bills_each_part_at_its_price(tmp_path, interval, billing, prices, expected) -> None:
    start = "2026-02-01" if "tariff_terms" in billing else None
    billing = {**billing, "positions": f.positions([("P1", "C1", "FEE", "recurring", interval, start, None)])}
    core = {"prices": f.prices_with(prices)} if prices else {}
    cat, bil = f.catalogs(billing=billing, **core)
    run_months(tmp_path, cat, bil, range(1, 5))
    assert fee_lines(tmp_path, PRICED) == expected


def test_the_history_keeps_one_row_per_period_with_the_parts_added(tmp_path) -> None:
    """A split period is covered once: billed-until and the total of its (rounded) parts."""
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "quarterly_x3", None, None)]),
        "position_prices": versions(("override", "7.90", "2026-01-01", "2026-02-01", "loyalty")),
    })
    run_months(tmp_path, cat, bil, range(1, 5))
    history = f.stored(tmp_path, "billing_history").sort("period_start")
    assert history.select("invoice_id", "period_start", "period_end", "days_charged", "net_amount").rows() == [
        ("INV-000001", date(2026, 1, 1), date(2026, 3, 31), 90, D("27.83")),
        ("INV-000002", date(2026, 4, 1), date(2026, 6, 30), 91, D("30.00")),
    ]


#: steps: (run period, C1's start date in the catalog of that run); expected: P1's lines (LINE).
@pytest.mark.parametrize(
    ("steps", "pauses", "expected"),
    [
        pytest.param(
            [("2026-03", "2026-03-01"), ("2026-04", "2026-03-01"), ("2026-05", "2026-01-01"), ("2026-05", "2026-01-01")],
            None,
            [("2026-03", "2026-03-01", "2026-03-31", 31, 31, D("10.00")),
             ("2026-04", "2026-04-01", "2026-04-30", 30, 30, D("10.00")),
             ("2026-05", "2026-01-01", "2026-01-31", 31, 31, D("10.00")),
             ("2026-05", "2026-02-01", "2026-02-28", 28, 28, D("10.00")),
             ("2026-05", "2026-05-01", "2026-05-31", 31, 31, D("10.00"))],
            id="the start moved two months earlier: the next run bills them, once",
        ),
        pytest.param(
            [("2026-01", "2026-01-01"), ("2026-02", "2026-01-01"), ("2026-03", "2026-01-01")],
            {"contract_id": ["C1"], "paused_from": ["2026-01-01"], "paused_through": ["2026-01-31"], "reason": ["moving"]},
            [("2026-02", "2026-02-01", "2026-02-28", 28, 28, D("10.00")),
             ("2026-03", "2026-03-01", "2026-03-31", 31, 31, D("10.00"))],
            id="a first period paused throughout is billed (with nothing), not caught up again",
        ),
    ],
)
def test_days_before_the_first_billed_period_are_caught_up(tmp_path, steps, pauses, expected) -> None:
    billing = {"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])}
    if pauses:
        billing["pauses"] = pauses
    for period, start in steps:
        cat, bil = f.catalogs(billing=billing, contracts=f.contracts_starting(C1=start))
        f.bill(tmp_path, cat, bil, period=period)
    assert fee_lines(tmp_path) == expected
    history = f.stored(tmp_path, "billing_history").filter(pl.col("position_id") == "P1")
    assert history.height == history.select("period_start").n_unique()  # every period once


#: steps: (run period, P1's start and end dates in the catalog of that run); expected: P1's lines (LINE).
@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [("2026-01", "2026-01-15", "2026-01-20"), ("2026-02", "2026-01-01", None)],
            [("2026-01", "2026-01-15", "2026-01-20", 6, 31, D("1.94")),
             ("2026-02", "2026-01-01", "2026-01-14", 14, 31, D("4.52")),
             ("2026-02", "2026-01-21", "2026-01-31", 11, 31, D("3.55")),
             ("2026-02", "2026-02-01", "2026-02-28", 28, 28, D("10.00"))],
            id="start moved earlier and end later around billed days of one period: each side once",
        ),
    ],
)
def test_days_caught_up_on_both_sides_of_a_billed_part_of_one_period(tmp_path, steps, expected) -> None:
    """Both sides of January's billed days are due in one run: each is billed on its own line,
    and the billed days in between are not billed again."""
    for period, start, end in steps:
        cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", start, end)])})
        f.bill(tmp_path, cat, bil, period=period)
    assert fee_lines(tmp_path) == expected


def test_a_part_without_a_price_holds_back_the_whole_period(tmp_path) -> None:
    """The list price starts on 15 February: January to 14 February has none, so the quarter waits."""
    cat, bil = f.catalogs(
        billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "quarterly", None, None)])},
        prices=f.prices_with([("T1", "FEE", "12.00", "2026-02-15", None)]),
    )
    f.bill(tmp_path, cat, bil, period="2026-01")
    problems = f.stored(tmp_path, "billing_problems")
    assert problems.select("position_id", "rule").rows() == [("P1", "price required")]
    assert "on 2026-01-01 in tariff T1" in problems["reason"][0]
    assert f.stored(tmp_path, "billing_history").height == 0


def test_an_unpriced_every_time_fee_is_left_off_its_invoice_and_never_billed_later(tmp_path) -> None:
    """TRANSFER (every time) is priced from 1 November: October's invoice goes without it, November's has its own."""
    billing = {"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None),
                                         ("P3", "C1", "TRANSFER", "every_time", None, None, None)])}  # fmt: skip
    cat, bil = f.catalogs(billing=billing, prices=f.prices_with([("T1", "TRANSFER", "1.50", "2026-11-01", None)]))
    for period in ("2026-10", "2026-11"):
        f.bill(tmp_path, cat, bil, period=period)
    transfer = f.stored(tmp_path, "invoice_items").filter(pl.col("article_id") == "TRANSFER")
    assert transfer.select("run_id", "service_from", "net_amount").rows() == [("period-2026-11", date(2026, 11, 30), D("1.50"))]
    assert f.stored(tmp_path, "billing_problems").select("run_id", "position_id", "reason").rows() == [
        ("period-2026-10", "P3",
         "no price for every_time position P3 (article TRANSFER) on 2026-10-31 in tariff T1: add a list price to prices.csv or a "
         "price version to position_prices.csv; an every-time fee belongs to its invoice: this one goes without it, later "
         "invoices take it once priced"),
    ]


def test_a_period_without_a_price_holds_back_the_later_ones_until_it_is_priced(tmp_path) -> None:
    """The list price starts on 1 February: January has none, so February waits with it (billed-until
    never passes an unbilled period); once January gets a price, the next run bills all three, once."""
    positions = f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])
    prices = f.prices_with([("T1", "FEE", "10.00", "2026-02-01", None)])
    cat, bil = f.catalogs(billing={"positions": positions}, prices=prices)
    january = {"position_id": ["P1"], "kind": ["price"], "price": ["8.00"], "valid_from": ["2026-01-01"],
               "valid_until": ["2026-02-01"], "reason": [None]}
    priced_cat, priced_bil = f.catalogs(billing={"positions": positions, "position_prices": january}, prices=prices)
    runs = [("2026-01", cat, bil), ("2026-02", cat, bil), ("2026-03", priced_cat, priced_bil)]
    expected = {
        # run period: (its problems (the day or period named), its lines: run period, service from, to, days, net)
        "2026-01": (["on 2026-01-01"], []),
        "2026-02": (["on 2026-01-01", "2026-02-01 to 2026-02-28 waits"], []),
        "2026-03": ([], [("2026-03", "2026-01-01", "2026-01-31", 31, 31, D("8.00")),
                         ("2026-03", "2026-02-01", "2026-02-28", 28, 28, D("10.00")),
                         ("2026-03", "2026-03-01", "2026-03-31", 31, 31, D("10.00"))]),
    }
    for period, run_cat, run_bil in runs:
        run_id = f.bill(tmp_path, run_cat, run_bil, period=period)
        problems = f.stored(tmp_path, "billing_problems").filter(pl.col("run_id") == run_id).sort("reason")
        said, lines = expected[period]
        assert problems["rule"].to_list() == ["price required"] * len(said)
        assert all(s in r for s, r in zip(said, problems["reason"].to_list(), strict=True)), problems["reason"].to_list()
        assert [line for line in fee_lines(tmp_path) if line[0] == period] == lines
    assert fee_lines(tmp_path, ("service_from",)) == [("2026-01-01",), ("2026-02-01",), ("2026-03-01",)]


@pytest.mark.parametrize(
    ("change_on", "expected"),
    [
        # run period, service from, service to, unit price, days charged / basis, net
        ("2026-03-01", [("2026-01", "2026-01-01", "2026-01-31", D("10.000000"), 31, 31, D("10.00")),
                        ("2026-02", "2026-02-01", "2026-02-28", D("10.000000"), 28, 28, D("10.00")),
                        ("2026-03", "2026-03-01", "2026-03-31", D("20.000000"), 31, 31, D("20.00")),
                        ("2026-04", "2026-04-01", "2026-04-30", D("20.000000"), 30, 30, D("20.00"))]),
        # inside March: 10.00 × 15/31 + 20.00 × 16/31
        ("2026-03-16", [("2026-01", "2026-01-01", "2026-01-31", D("10.000000"), 31, 31, D("10.00")),
                        ("2026-02", "2026-02-01", "2026-02-28", D("10.000000"), 28, 28, D("10.00")),
                        ("2026-03", "2026-03-01", "2026-03-15", D("10.000000"), 15, 31, D("4.84")),
                        ("2026-03", "2026-03-16", "2026-03-31", D("20.000000"), 16, 31, D("10.32")),
                        ("2026-04", "2026-04-01", "2026-04-30", D("20.000000"), 30, 30, D("20.00"))]),
    ],
    ids=["on-a-period-start", "inside-a-period"],
)
def test_a_tariff_change_changes_the_fee_from_its_day(tmp_path, change_on, expected) -> None:
    """FEE's list price is 10.00 in T1 and 20.00 in T2; the module changes to T2 on `change_on`."""
    cat, bil = f.catalogs(billing={
        "modules": {"module_id": ["M1"], "contract_id": ["C1"], "name": ["Phone"], "ordered_on": ["2026-01-01"]},
        "module_tariffs": {"module_id": ["M1", "M1"], "tariff_id": ["T1", "T2"], "valid_from": ["2026-01-01", change_on],
                           "valid_until": [change_on, None]},
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None, None, None, "M1")]),
    })
    run_months(tmp_path, cat, bil, range(1, 5))
    columns = ("run_period", "service_from", "service_to", "unit_price", "days_charged", "days_basis", "net_amount")
    assert fee_lines(tmp_path, columns) == expected


# -- pauses ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pauses", "expected", "history"),
    [
        # two pauses in January (5 + 5 days), one in February (2 days)
        ([("2026-01-05", "2026-01-09"), ("2026-01-20", "2026-01-24"), ("2026-02-10", "2026-02-11")],
         [("2026-01", 21, 31, D("6.77"), "10 paused days not charged"),
          ("2026-02", 26, 28, D("9.29"), "2 paused days not charged"),
          ("2026-03", 31, 31, D("10.00"), None)],
         [21, 26, 31]),
        # one pause across the January/February boundary, one throughout March (no line)
        ([("2026-01-30", "2026-02-02"), ("2026-03-01", "2026-03-31")],
         [("2026-01", 29, 31, D("9.35"), "2 paused days not charged"),
          ("2026-02", 26, 28, D("9.29"), "2 paused days not charged")],
         # March is recorded with 0 days charged, so it is never billed later
         [29, 26, 0]),
    ],
    ids=["three-pauses", "boundary-and-whole-month"],
)
def test_several_pauses_of_one_contract_each_bill_nothing(tmp_path, pauses, expected, history) -> None:
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)]),
        "pauses": {"contract_id": ["C1"] * len(pauses), "paused_from": [p[0] for p in pauses],
                   "paused_through": [p[1] for p in pauses]},
    })
    run_months(tmp_path, cat, bil, range(1, 4))
    assert fee_lines(tmp_path, ("run_period", "days_charged", "days_basis", "net_amount", "note")) == expected
    assert f.stored(tmp_path, "billing_history").sort("period_start")["days_charged"].to_list() == history


# -- one-time and every-time fees in a pause -------------------------------------------------

FEES = (("P1", "C1", "FEE", "recurring", "monthly", "2026-10-01", None),
        ("P3", "C1", "TRANSFER", "every_time", None, "2026-10-01", None))
PAUSED_OCTOBER = [("2026-10-01", "2026-10-31")]


def pause_rows(pauses: list[tuple[str, str]]) -> dict[str, list]:
    return {"contract_id": ["C1"] * len(pauses), "paused_from": [p[0] for p in pauses],
            "paused_through": [p[1] for p in pauses], "reason": ["holiday"] * len(pauses)}


def bill_runs(warehouse: Path, cat, bil, runs: list[str]) -> None:
    """A period run for each "YYYY-MM", a single invoice of C1 for each "YYYY-MM-DD" (its last day)."""
    for run in runs:  # a handful of runs
        if len(run) == 7:
            f.bill(warehouse, cat, bil, period=run)
        else:
            f.bill(warehouse, cat, bil, contract="C1", until=date.fromisoformat(run))


def invoice_lines(warehouse: Path) -> list[tuple]:
    """C1's invoice lines in invoice order: run, article, service from and to, net."""
    items = f.stored(warehouse, "invoice_items").filter(pl.col("contract_id") == "C1").join(
        f.stored(warehouse, "invoices").select("invoice_id", "run_id"), on="invoice_id"
    )
    return items.sort("invoice_id", "line_no").select(
        "run_id", "article_id", pl.col("service_from").cast(pl.String), pl.col("service_to").cast(pl.String), "net_amount"
    ).rows()


@pytest.mark.parametrize(
    ("pauses", "setup_end", "runs", "expected", "setup_history"),
    [
        # the auditor's case: SETUP starts on 5 October inside a pause of all October; nothing is
        # billed for October (no invoice), SETUP waits for November's run, dated on 1 November
        (PAUSED_OCTOBER, None, ["2026-10", "2026-11"],
         [("period-2026-11", "SETUP", "2026-11-01", "2026-11-01", D("99.00")),
          ("period-2026-11", "FEE", "2026-11-01", "2026-11-30", D("10.00")),
          ("period-2026-11", "TRANSFER", "2026-11-30", "2026-11-30", D("1.50"))],
         [("period-2026-11", "2026-11-01")]),
        # the pause ends on 20 October: SETUP is billed in October, on its first unpaused day
        ([("2026-10-03", "2026-10-20")], None, ["2026-10", "2026-11"],
         [("period-2026-10", "SETUP", "2026-10-21", "2026-10-21", D("99.00")),
          ("period-2026-10", "FEE", "2026-10-01", "2026-10-31", D("4.19")),
          ("period-2026-10", "TRANSFER", "2026-10-31", "2026-10-31", D("1.50")),
          ("period-2026-11", "FEE", "2026-11-01", "2026-11-30", D("10.00")),
          ("period-2026-11", "TRANSFER", "2026-11-30", "2026-11-30", D("1.50"))],
         [("period-2026-10", "2026-10-21")]),
        # a pause after SETUP's start changes nothing for it
        ([("2026-10-10", "2026-10-20")], None, ["2026-10"],
         [("period-2026-10", "SETUP", "2026-10-05", "2026-10-05", D("99.00")),
          ("period-2026-10", "FEE", "2026-10-01", "2026-10-31", D("6.45")),
          ("period-2026-10", "TRANSFER", "2026-10-31", "2026-10-31", D("1.50"))],
         [("period-2026-10", "2026-10-05")]),
        # two adjacent pauses: SETUP's first unpaused day is the day after the second
        ([("2026-09-20", "2026-10-15"), ("2026-10-16", "2026-11-03")], None, ["2026-10", "2026-11"],
         [("period-2026-11", "SETUP", "2026-11-04", "2026-11-04", D("99.00")),
          ("period-2026-11", "FEE", "2026-11-01", "2026-11-30", D("9.00")),
          ("period-2026-11", "TRANSFER", "2026-11-30", "2026-11-30", D("1.50"))],
         [("period-2026-11", "2026-11-04")]),
        # October's run ends on a paused day: its invoice (FEE for 1 to 24 October) has no TRANSFER
        ([("2026-10-25", "2026-11-05")], None, ["2026-10", "2026-11"],
         [("period-2026-10", "SETUP", "2026-10-05", "2026-10-05", D("99.00")),
          ("period-2026-10", "FEE", "2026-10-01", "2026-10-31", D("7.74")),
          ("period-2026-11", "FEE", "2026-11-01", "2026-11-30", D("8.33")),
          ("period-2026-11", "TRANSFER", "2026-11-30", "2026-11-30", D("1.50"))],
         [("period-2026-10", "2026-10-05")]),
        # billed exactly once: by a single invoice up to 10 November, not again by November's run
        # (which then has nothing to bill: TRANSFER alone makes no invoice)
        (PAUSED_OCTOBER, None, ["2026-10", "2026-11-10", "2026-11", "2026-10"],
         [("single-C1-2026-11-10", "SETUP", "2026-11-01", "2026-11-01", D("99.00")),
          ("single-C1-2026-11-10", "FEE", "2026-11-01", "2026-11-30", D("10.00")),
          ("single-C1-2026-11-10", "TRANSFER", "2026-11-10", "2026-11-10", D("1.50"))],
         [("single-C1-2026-11-10", "2026-11-01")]),
        # SETUP ends inside the pause: it has no unpaused active day and is never billed
        (PAUSED_OCTOBER, "2026-10-20", ["2026-10", "2026-11"],
         [("period-2026-11", "FEE", "2026-11-01", "2026-11-30", D("10.00")),
          ("period-2026-11", "TRANSFER", "2026-11-30", "2026-11-30", D("1.50"))],
         []),
    ],
    ids=["setup-in-whole-month-pause", "pause-ends-mid-month", "pause-after-setup-start", "two-adjacent-pauses",
         "run-ends-in-pause", "billed-once-single-then-period", "setup-ends-in-pause"],
)
def test_a_pause_holds_back_one_time_and_every_time_fees(tmp_path, pauses, setup_end, runs, expected, setup_history) -> None:
    """SETUP (one-time, from 5 October) is billed by the first run covering an active, unpaused
    day from its start; TRANSFER (every-time) not by a run whose last day is paused."""
    cat, bil = f.catalogs(billing={
        "positions": f.positions([*FEES, ("P2", "C1", "SETUP", "one_time", None, "2026-10-05", setup_end)]),
        "pauses": pause_rows(pauses),
    })
    bill_runs(tmp_path, cat, bil, runs)
    assert invoice_lines(tmp_path) == expected
    history = f.stored(tmp_path, "billing_history").filter(pl.col("position_id") == "P2")
    assert history.select("run_id", pl.col("period_start").cast(pl.String)).rows() == setup_history


def test_usage_rated_in_a_pause_is_billed_without_the_paused_fees(tmp_path) -> None:
    """All October paused, a call on 10 October: October's invoice has the call only (usage in a
    pause is still billed; its last day is paused, so no TRANSFER); SETUP and TRANSFER come in November."""
    cat, bil = f.catalogs(billing={
        "positions": f.positions([*FEES, ("P2", "C1", "SETUP", "one_time", None, "2026-10-05", None)]),
        "pauses": pause_rows(PAUSED_OCTOBER),
    })
    call = {"record_key": "a", "contract_id": "C1", "quantity": 60, "amount": D("0.06"),
            "start_time": datetime(2026, 10, 10, 9, tzinfo=timezone.utc)}
    f.store_rated(tmp_path, f.rated([call]))
    bill_runs(tmp_path, cat, bil, ["2026-10", "2026-11"])
    assert invoice_lines(tmp_path) == [
        ("period-2026-10", "CALL", "2026-10-10", "2026-10-10", D("0.06")),
        ("period-2026-11", "SETUP", "2026-11-01", "2026-11-01", D("99.00")),
        ("period-2026-11", "FEE", "2026-11-01", "2026-11-30", D("10.00")),
        ("period-2026-11", "TRANSFER", "2026-11-30", "2026-11-30", D("1.50")),
    ]


# -- billing state ---------------------------------------------------------------------------

def test_billing_state_says_what_each_position_means(tmp_path) -> None:
    cat, bil = f.catalogs(billing={"positions": f.positions([
        ("P-M", "C1", "FEE", "recurring", "monthly", None, None),
        ("P-LATER", "C1", "FEE", "recurring", "monthly", "2026-06-01", None),
        ("P-GONE", "C1", "FEE", "recurring", "monthly", "2026-06-01", "2026-05-31"),
        ("P-FUT", "C1", "FEE", "recurring", "future", None, None),
        ("P-NEV", "C1", "FEE", "recurring", "never", None, None),
        ("P-EXT", "C1", "FEE", "recurring", "external", None, None),
        ("P-VAR", "C1", "CALL", "variable", None, None, None),
    ])})
    run_months(tmp_path, cat, bil, range(1, 3))
    con = engine.connect()
    cat.register(con)
    bil.register(con)
    register_state(con, tmp_path)
    states = position_states(con).select("position_id", "billed_until", "last_invoice_id", "invoices", "state")
    assert states.rows() == [
        ("P-EXT", None, None, 0, "billed by an external provider: nothing billed here"),
        ("P-FUT", None, None, 0, "to be billed, start not known yet: nothing billed"),
        ("P-GONE", None, None, 0, "cancelled before it started: never billed"),
        ("P-LATER", None, None, 0, "not billed yet"),
        ("P-M", date(2026, 2, 28), "INV-000002", 2, "billed until 2026-02-28"),
        ("P-NEV", None, None, 0, "never billed"),
        ("P-VAR", None, None, 0, "billed with the usage lines"),
    ]


def test_the_last_invoice_is_the_latest_invoice_even_when_it_caught_up_earlier_days(tmp_path) -> None:
    """RENT (yearly) billed in March from 1 March on INV-000001; the start moved to 1 January, April's
    INV-000002 catches up January and February: the last invoice is INV-000002, not the one that
    covers the latest day."""
    for period, start in (("2026-03", "2026-03-01"), ("2026-04", "2026-01-01")):
        cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "RENT", "recurring", "yearly", None, None)])},
                              contracts=f.contracts_starting(C1=start))
        f.bill(tmp_path, cat, bil, period=period)
    assert fee_lines(tmp_path, ("run_period", "service_from", "service_to", "net_amount")) == [
        ("2026-03", "2026-03-01", "2027-02-28", D("120.00")),
        ("2026-04", "2026-01-01", "2026-02-28", D("19.40")),  # 120.00 × 59/365
    ]
    con = engine.connect()
    cat.register(con)
    bil.register(con)
    register_state(con, tmp_path)
    assert position_states(con).select("position_id", "billed_until", "last_invoice_id", "invoices").rows() == [
        ("P1", date(2027, 2, 28), "INV-000002", 2),
    ]
    add_billing_views(con, tmp_path)  # the analysts' view says the same
    assert con.sql("SELECT position_id, billed_until, last_invoice_id, invoices FROM position_billing_state").fetchall() == [
        ("P1", date(2027, 2, 28), "INV-000002", 2),
    ]


@pytest.mark.parametrize(
    ("end", "state"),
    [
        # cancelled back-dated into the period billed in advance: the invoice stays, billing-state says so
        ("2026-03-15", "billed until 2026-03-31, past its end 2026-03-15: billed in advance, not credited (invoices are final)"),
        # cancelled before it started, after its first period was billed: it was billed, not "never billed"
        ("2026-02-28", "billed until 2026-03-31, past its end 2026-02-28: billed in advance, not credited (invoices are final)"),
        ("2026-03-31", "billed until 2026-03-31"),
        (None, "billed until 2026-03-31"),
    ],
)
def test_billing_state_of_a_position_cancelled_after_it_was_billed_in_advance(tmp_path, end, state) -> None:
    billed = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-03-01", None)])})
    f.bill(tmp_path, *billed, period="2026-03")
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-03-01", end)])})
    con = engine.connect()
    cat.register(con)
    bil.register(con)
    register_state(con, tmp_path)
    assert position_states(con).select("position_id", "billed_until", "invoices", "state").rows() == [
        ("P1", date(2026, 3, 31), 1, state),
    ]


@pytest.mark.parametrize(
    ("invoice_date", "refused"),
    [
        # ops audit: a late September call billed by a September run after October's was numbered after
        # October's invoice but dated 30 September
        (None, "sequence INV already holds INV-000001 dated 2026-10-31: an invoice dated 2026-09-30 would be numbered after it "
               r"\(numbers follow the invoice dates\); give --invoice-date 2026-10-31 or later"),
        (date(2026, 10, 31), None),
    ],
)
def test_a_run_for_an_earlier_period_needs_an_invoice_date_not_before_the_sequences_latest(tmp_path, invoice_date, refused) -> None:
    from flows.billing_run import bill_task
    from pipeline.bill.invoices import BillingError, billing_request

    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-09-01", None)])})
    warehouse = tmp_path / "warehouse"
    f.bill(warehouse, cat, bil, period="2026-10")
    late = [{"record_key": "late", "contract_id": "C1", "start_time": datetime(2026, 9, 15, 9, tzinfo=timezone.utc), "quantity": 60,
             "amount": D("0.060000")}]
    f.store_rated(warehouse, f.rated(late), run_id="rate-late")
    request = billing_request(period="2026-09", invoice_date=invoice_date)
    if refused:
        with pytest.raises(BillingError, match=refused):
            bill_task.fn(cat, bil, request, warehouse)
    else:
        result = bill_task.fn(cat, bil, request, warehouse)
        assert [(r["invoice_id"], str(r["invoice_date"])) for r in result.tables()["invoices"].to_pylist()] == [("INV-000002", "2026-10-31")]


def test_a_test_accounts_later_invoice_does_not_stop_the_real_run(tmp_path) -> None:
    # review: a test account's single invoice dated 15 November (a preview) stopped October's period
    # run for every real contract: its test invoice for a late October call was dated before it
    from flows.billing_run import bill_task
    from pipeline.bill.invoices import billing_request

    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-10-01", None),
                                                             ("PT", "CT", "FEE", "recurring", "monthly", "2026-10-01", None)])})
    warehouse = tmp_path / "warehouse"
    f.bill(warehouse, cat, bil, contract="CT", until=date(2026, 11, 15))
    late = [{"record_key": "late", "contract_id": "CT", "customer_id": "KT", "start_time": datetime(2026, 10, 20, 9, tzinfo=timezone.utc),
             "quantity": 60, "amount": D("0.060000")}]
    f.store_rated(warehouse, f.rated(late), run_id="rate-late")
    result = bill_task.fn(cat, bil, billing_request(period="2026-10"), warehouse)
    invoices = result.tables()["invoices"].to_pylist() + result.tables(test=True)["invoices"].to_pylist()
    assert [(r["invoice_id"], str(r["invoice_date"])) for r in invoices] == [("INV-000001", "2026-10-31"), ("TEST-000002", "2026-10-31")]


def test_the_date_order_refusal_names_the_latest_dated_invoice_even_where_the_order_is_already_broken() -> None:
    """Review: INV-000002 dated 30 September after INV-000001 of 31 October (an older release made such
    runs): the refusal named INV-000002 with October's date; it names INV-000001, the latest dated."""
    import pyarrow as pa

    import sql

    con = engine.connect()
    con.register("st_invoices", pa.table({"sequence_id": ["INV", "INV"], "invoice_id": ["INV-000001", "INV-000002"],
                                          "sequence_no": [1, 2], "invoice_date": [date(2026, 10, 31), date(2026, 9, 30)]}))
    con.register("bill_out_invoices", pa.table({"sequence_id": ["INV"], "invoice_date": [date(2026, 9, 30)], "is_test": [False]}))
    assert con.sql(sql.load("duck/bill/dates_out_of_order")).fetchall() == [("INV", "INV-000001", date(2026, 10, 31))]
