"""Billing after a cancellation: which positions are billed in the months after the module ends.

A position whose article has its own notice runs to its own end, past its module's; a position
starting after its module's end is cancelled before it started and never billed
(docs/billing.md, Lifecycle)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

import billing_factory as f
from pipeline.lifecycle import Actor, module_cancellation

D = Decimal
MANAGER, CLIENT = Actor("mia", "Manager"), Actor("carl", "Client")

#: M1 (tariff T1, monthly notice) from 1 January 2026; RENT has its own yearly notice (12-month
#: terms, 3 months' notice). Billing starts with July, so every run bills its own month.
BILLING = {
    "tariff_terms": {"tariff_id": ["T1"], "cancellation": ["monthly"], "term_months": [None], "notice_months": ["1"],
                     "proration": ["days"], "public": ["true"]},
    "article_terms": {"article_id": ["RENT"], "cancellation": ["yearly"], "term_months": ["12"], "notice_months": ["3"]},
    "contract_terms": {"contract_id": ["C1"], "billing_from": ["2026-07-01"]},
    "modules": {"module_id": ["M1"], "contract_id": ["C1"], "name": ["Phone"], "ordered_on": ["2026-01-01"]},
    "positions": f.positions([
        ("P1", "C1", "FEE", "recurring", "monthly", None, None, None, None, "M1"),      # 10.00 a month
        ("P2", "C1", "RENT", "recurring", "monthly", None, None, None, None, "M1"),     # 120.00 a month, own notice
        ("P3", "C1", "FEE", "recurring", "monthly", None, None),                        # no module: not cancelled
        ("P4", "C1", "FEE", "recurring", "monthly", "2026-10-01", None, None, None, "M1"),
        ("P5", "C1", "SETUP", "one_time", None, "2026-10-01", None, None, None, "M1"),  # 99.00 once
    ]),
}


def lines(run: str, *billed: tuple[str, int, str]) -> list[tuple]:
    return [(run, position, days, D(net)) for position, days, net in billed]


@pytest.mark.parametrize(
    ("actor", "notice_on", "end", "expected"),
    [
        # M1 ends 31 July; RENT's own term ends 31 December (notice by 29 September); P4 and P5
        # start on 1 October, after M1's end: never billed
        (CLIENT, date(2026, 6, 1), None, [
            *lines("2026-07", ("P1", 31, "10.00"), ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2026-08", ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2026-09", ("P2", 30, "120.00"), ("P3", 30, "10.00")),
            *lines("2026-10", ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2026-11", ("P2", 30, "120.00"), ("P3", 30, "10.00")),
            *lines("2026-12", ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2027-01", ("P3", 31, "10.00")),
        ]),
        # notice on 1 October: M1 ends 30 November; RENT missed its last notice day and renews to
        # 31 December 2027; P4 and P5 start within M1 and are billed until its end
        (CLIENT, date(2026, 10, 1), None, [
            *lines("2026-07", ("P1", 31, "10.00"), ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2026-08", ("P1", 31, "10.00"), ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2026-09", ("P1", 30, "10.00"), ("P2", 30, "120.00"), ("P3", 30, "10.00")),
            *lines("2026-10", ("P1", 31, "10.00"), ("P2", 31, "120.00"), ("P3", 31, "10.00"), ("P4", 31, "10.00"),
                   ("P5", None, "99.00")),
            *lines("2026-11", ("P1", 30, "10.00"), ("P2", 30, "120.00"), ("P3", 30, "10.00"), ("P4", 30, "10.00")),
            *lines("2026-12", ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2027-01", ("P2", 31, "120.00"), ("P3", 31, "10.00")),
        ]),
        # a Manager's deviating end, 15 August, holds for every position of M1, RENT included
        (MANAGER, date(2026, 6, 1), date(2026, 8, 15), [
            *lines("2026-07", ("P1", 31, "10.00"), ("P2", 31, "120.00"), ("P3", 31, "10.00")),
            *lines("2026-08", ("P1", 15, "4.84"), ("P2", 15, "58.06"), ("P3", 31, "10.00")),
            *lines("2026-09", ("P3", 30, "10.00")),
            *lines("2026-10", ("P3", 31, "10.00")),
            *lines("2026-11", ("P3", 30, "10.00")),
            *lines("2026-12", ("P3", 31, "10.00")),
            *lines("2027-01", ("P3", 31, "10.00")),
        ]),
    ],
    ids=["own-notice-outlives-the-module", "renewed-own-notice", "deviating-end"],
)
def test_months_after_the_module_ends_bill_only_what_still_runs(tmp_path, actor, notice_on, end, expected) -> None:
    cat, bil = f.catalogs(billing=BILLING)
    change = module_cancellation(cat, bil, "C1", "M1", notice_on, actor, end=end)
    bil = bil.replace(**{name: new for name, (_, new) in change.tables.items()})
    for year, month in [(2026, m) for m in range(7, 13)] + [(2027, 1)]:  # seven monthly runs
        f.bill(tmp_path, cat, bil, period=f.ym(year, month))
    items = f.stored(tmp_path, "invoice_items").join(
        f.stored(tmp_path, "invoices").select("invoice_id", pl.col("period").alias("run")), on="invoice_id"
    )
    got = items.sort("run", "position_id").select("run", "position_id", "days_charged", "net_amount")
    assert got.rows() == expected
