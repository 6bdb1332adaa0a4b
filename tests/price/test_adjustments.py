"""Minimum revenue and cost cap as adjustment lines: the pure function the billing run's hook calls."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from pipeline.price.adjustments import AdjustmentRules, usage_adjustments
from schemas.billing import ADJUSTMENT_SCHEMA, USAGE_LINE_SCHEMA

RULES = AdjustmentRules(
    tariffs=pl.DataFrame(
        {"tariff_id": ["T1", "T2"], "min_revenue": [Decimal("10"), None], "cost_cap": [Decimal("30"), Decimal("0.10")],
         "vat_rate": [Decimal("0.2"), Decimal("0.19")]},
        schema={"tariff_id": pl.String, "min_revenue": pl.Decimal(18, 6), "cost_cap": pl.Decimal(18, 6), "vat_rate": pl.Decimal(6, 4)},
    ),
    flags=pl.DataFrame(
        {"tariff_id": ["T1", "T1", "T2"], "article_id": ["CALLS", "SMS", "CALLS"], "min_revenue": [True, True, False],
         "cost_cap": [True, True, True]}
    ),
)


def lines(*rows) -> pl.DataFrame:
    """Usage lines (contract, tariff, article, net amount, VAT rate[, VAT code])."""
    return pl.DataFrame(
        {
            "contract_id": [r[0] for r in rows], "customer_id": ["C"] * len(rows), "tariff_id": [r[1] for r in rows],
            "period": ["2026-10"] * len(rows), "article_id": [r[2] for r in rows], "records": [1] * len(rows),
            "quantity": [1] * len(rows), "net_amount": [Decimal(r[3]) for r in rows], "vat_rate": [Decimal(r[4]) for r in rows],
            "vat_code": [r[5] if len(r) > 5 else "normal" for r in rows], "currency": ["EUR"] * len(rows),
        },
        schema=USAGE_LINE_SCHEMA,
    )


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # flagged 4 + 2 = 6 < 10: + 4, split over the VAT rates in proportion (2.67 at 20 %, 1.33 at 10 %)
        ([("K", "T1", "CALLS", "4.00", "0.2"), ("K", "T1", "SMS", "2.00", "0.1"), ("K", "T1", "FEE", "9.00", "0.2")],
         [("K", "MIN_REVENUE", "2.67", "0.2000"), ("K", "MIN_REVENUE", "1.33", "0.1000")]),
        # within the limits: nothing
        ([("K", "T1", "CALLS", "12.00", "0.2")], []),
        # over the cap: 35 - 30
        ([("K", "T1", "CALLS", "35.00", "0.2")], [("K", "COST_CAP", "-5.00", "0.2000")]),
        # no flagged amount at all (only unflagged usage): the minimum at the tariff's rate
        ([("K", "T1", "FEE", "3.00", "0.2")], [("K", "MIN_REVENUE", "10.00", "0.2000")]),
        # a period without usage (the billing run's one line with no article, 0.00): the whole minimum
        ([("K", "T1", None, "0.00", "0")], [("K", "MIN_REVENUE", "10.00", "0.2000")]),
        ([("K", "T1", None, "0.00", "0", "exempt")], [("K", "MIN_REVENUE", "10.00", "0.0000")]),
        ([("K", "T2", None, "0.00", "0")], []),  # T2 has no minimum; nothing under its cap
        # reverse charge: 0 %
        ([("K", "T1", "FEE", "3.00", "0", "reverse_charge")], [("K", "MIN_REVENUE", "10.00", "0.0000")]),
        # each contract on its own; T2 has a cap only
        ([("A", "T1", "CALLS", "1.00", "0.2"), ("B", "T2", "CALLS", "0.15", "0.19")],
         [("A", "MIN_REVENUE", "9.00", "0.2000"), ("B", "COST_CAP", "-0.05", "0.1900")]),
    ],
)
def test_adjustment_lines(usage, expected):
    got = usage_adjustments(lines(*usage), RULES)
    assert got.schema == pl.Schema(ADJUSTMENT_SCHEMA)
    assert got.select("contract_id", "article_id", pl.col("net_amount").cast(pl.String), pl.col("vat_rate").cast(pl.String)).rows() == expected


def test_minimum_revenue_then_cost_cap_on_the_same_articles_clamps_the_sum():
    tight = AdjustmentRules(
        tariffs=RULES.tariffs.with_columns(pl.when(pl.col("tariff_id") == "T1").then(pl.lit(Decimal("10"))).otherwise("cost_cap").cast(pl.Decimal(18, 6)).alias("cost_cap")),
        flags=RULES.flags,
    )
    got = usage_adjustments(lines(("K", "T1", "CALLS", "4.00", "0.2")), tight)
    assert got.select("article_id", "net_amount", "note").rows() == [
        ("MIN_REVENUE", Decimal("6.00"), "minimum revenue 10.00 EUR on flagged usage 4.00 EUR"),
    ]


def test_no_usage_lines_no_adjustments():
    assert usage_adjustments(lines(), RULES).height == 0


def flagged_apart(minimum: str, cap: str, flags: list[tuple[str, bool, bool]]) -> AdjustmentRules:
    """Tariff T with its own minimum and cap and the articles flagged (article, for the minimum, for the cap)."""
    return AdjustmentRules(
        tariffs=pl.DataFrame(
            {"tariff_id": ["T"], "min_revenue": [Decimal(minimum)], "cost_cap": [Decimal(cap)], "vat_rate": [Decimal("0.2")]},
            schema={"tariff_id": pl.String, "min_revenue": pl.Decimal(18, 6), "cost_cap": pl.Decimal(18, 6), "vat_rate": pl.Decimal(6, 4)},
        ),
        flags=pl.DataFrame({"tariff_id": ["T"] * len(flags), "article_id": [f[0] for f in flags],
                            "min_revenue": [f[1] for f in flags], "cost_cap": [f[2] for f in flags]}),  # fmt: skip
    )


@pytest.mark.parametrize(
    ("flags", "usage", "expected"),
    [
        # different articles for each limit: Research topped up to 10, Dictation capped at 10 (20.00 in all)
        ([("RESEARCH", True, False), ("DICTATION", False, True)], [("RESEARCH", "5.00"), ("DICTATION", "15.00")],
         [("MIN_REVENUE", "5.00", "minimum revenue 10.00 EUR on flagged usage 5.00 EUR"),
          ("COST_CAP", "-5.00", "cost cap 10.00 EUR on flagged usage 15.00 EUR")]),
        # A for both, B for the cap only: the top-up (10 - 0) is A's, so the cap sees 9 + 10 → -9
        ([("A", True, True), ("B", False, True)], [("B", "9.00")],
         [("MIN_REVENUE", "10.00", "minimum revenue 10.00 EUR on flagged usage 0.00 EUR"),
          ("COST_CAP", "-9.00", "cost cap 10.00 EUR on flagged usage 9.00 EUR plus the minimum-revenue adjustment")]),
        # A and R for the minimum, A and B for the cap: 3 of the minimum's 4 are A's, so 3/4 of the
        # top-up of 6 count toward the cap: 3 + 8 + 4.50 = 15.50 → -5.50
        ([("A", True, True), ("R", True, False), ("B", False, True)], [("A", "3.00"), ("R", "1.00"), ("B", "8.00")],
         [("MIN_REVENUE", "6.00", "minimum revenue 10.00 EUR on flagged usage 4.00 EUR"),
          ("COST_CAP", "-5.50", "cost cap 10.00 EUR on flagged usage 11.00 EUR plus 4.50 EUR of the minimum-revenue adjustment")]),
        # no minimum-flagged amount at all: the top-up counts in the share of the minimum's articles
        # also under the cap (1 of 2): 5 of 10 → 7 + 5 = 12 → -2
        ([("A", True, True), ("R", True, False), ("B", False, True)], [("B", "7.00")],
         [("MIN_REVENUE", "10.00", "minimum revenue 10.00 EUR on flagged usage 0.00 EUR"),
          ("COST_CAP", "-2.00", "cost cap 10.00 EUR on flagged usage 7.00 EUR plus 5.00 EUR of the minimum-revenue adjustment")]),
    ],
    ids=["apart", "min-within-cap-no-usage", "overlap-by-amount", "overlap-by-articles"],
)
def test_minimum_and_cap_on_different_articles_act_each_on_their_own(flags, usage, expected):
    got = usage_adjustments(lines(*[("K", "T", a, amount, "0.2") for a, amount in usage]), flagged_apart("10", "10", flags))
    assert got.select("article_id", pl.col("net_amount").cast(pl.String), "note").rows() == expected
