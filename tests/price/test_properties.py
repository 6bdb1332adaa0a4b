"""Invariants over random usage (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.price.adjustments import AdjustmentRules, usage_adjustments
from schemas.billing import USAGE_LINE_SCHEMA
from tests.price.factory import K_SEC, priced, rate_priced, usage
from tests.price.test_rules import NO_BASE_PRICE, tiers

cents = st.integers(min_value=0, max_value=100_000)


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.tuples(st.sampled_from(["K1", "K2"]), st.sampled_from(["CALLS", "SMS", "FEE"]), cents), max_size=8),
    minimum=st.one_of(st.none(), cents),
    extra=st.one_of(st.none(), cents),
)
def test_flagged_sum_never_exceeds_the_cap_nor_falls_below_the_minimum(amounts, minimum, extra):
    cap = None if extra is None else (minimum or 0) + extra  # a minimum never exceeds the cap (catalog rule)
    rules = AdjustmentRules(
        tariffs=pl.DataFrame(
            {"tariff_id": ["T"], "min_revenue": [None if minimum is None else Decimal(minimum) / 100],
             "cost_cap": [None if cap is None else Decimal(cap) / 100], "vat_rate": [Decimal("0.2")]},
            schema={"tariff_id": pl.String, "min_revenue": pl.Decimal(18, 6), "cost_cap": pl.Decimal(18, 6), "vat_rate": pl.Decimal(6, 4)},
        ),
        flags=pl.DataFrame({"tariff_id": ["T", "T"], "article_id": ["CALLS", "SMS"], "min_revenue": [True, True], "cost_cap": [True, True]}),
    )
    usage_lines = pl.DataFrame(
        {"contract_id": [a[0] for a in amounts], "customer_id": "C", "tariff_id": "T", "period": "2026-10",
         "article_id": [a[1] for a in amounts], "records": 1, "quantity": 1,
         "net_amount": [Decimal(a[2]) / 100 for a in amounts], "vat_rate": Decimal("0.2"), "vat_code": "normal", "currency": "EUR"},
        schema=USAGE_LINE_SCHEMA,
    )
    adjustments = usage_adjustments(usage_lines, rules)
    for contract in {a[0] for a in amounts}:
        flagged = sum((Decimal(a[2]) / 100 for a in amounts if a[0] == contract and a[1] != "FEE"), Decimal(0))
        charged = flagged + sum(adjustments.filter(pl.col("contract_id") == contract).get_column("net_amount"), Decimal(0))
        if minimum is not None:
            assert charged >= Decimal(minimum) / 100
        if cap is not None:
            assert charged <= Decimal(cap) / 100
        if (minimum is None or flagged >= Decimal(minimum) / 100) and (cap is None or flagged <= Decimal(cap) / 100):
            assert charged == flagged  # within the limits nothing changes


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.tuples(st.sampled_from(["CALLS", "SMS", "DATA"]), cents), min_size=1, max_size=6),
    flags=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=3, max_size=3),
    minimum=cents,
    extra=cents,
)
def test_minimum_and_cap_on_any_flagged_articles_keep_their_own_limits(amounts, flags, minimum, extra):
    """Articles flagged for the minimum, the cap, both or neither, independently: the top-up is
    exactly what the minimum's articles lack; the cap cuts at least the cap's articles' own
    excess and at most their excess with the whole top-up counted; with the same articles for
    both, the sum is clamped; with different ones, each limit acts alone."""
    cap = minimum + extra
    articles = ["CALLS", "SMS", "DATA"]
    rules = AdjustmentRules(
        tariffs=pl.DataFrame(
            {"tariff_id": ["T"], "min_revenue": [Decimal(minimum) / 100], "cost_cap": [Decimal(cap) / 100], "vat_rate": [Decimal("0.2")]},
            schema={"tariff_id": pl.String, "min_revenue": pl.Decimal(18, 6), "cost_cap": pl.Decimal(18, 6), "vat_rate": pl.Decimal(6, 4)},
        ),
        flags=pl.DataFrame({"tariff_id": ["T"] * 3, "article_id": articles,
                            "min_revenue": [f[0] for f in flags], "cost_cap": [f[1] for f in flags]}),  # fmt: skip
    )
    usage_lines = pl.DataFrame(
        {"contract_id": "K", "customer_id": "C", "tariff_id": "T", "period": "2026-10", "article_id": [a[0] for a in amounts],
         "records": 1, "quantity": 1, "net_amount": [Decimal(a[1]) / 100 for a in amounts], "vat_rate": Decimal("0.2"),
         "vat_code": "normal", "currency": "EUR"},
        schema=USAGE_LINE_SCHEMA,
    )
    got = usage_adjustments(usage_lines, rules)
    for_min = {a for a, f in zip(articles, flags) if f[0]}
    for_cap = {a for a, f in zip(articles, flags) if f[1]}
    m = sum(c for a, c in amounts if a in for_min)
    c = sum(c for a, c in amounts if a in for_cap)

    def adjusted(kind: str) -> int:
        return int(sum(got.filter(pl.col("article_id") == kind).get_column("net_amount"), Decimal(0)) * 100)

    top_up, cut = adjusted("MIN_REVENUE"), adjusted("COST_CAP")
    assert top_up == max(minimum - m, 0)
    assert min(cap - c - top_up, 0) <= cut <= min(cap - c, 0)
    if for_min == for_cap:
        assert m + top_up + cut == min(max(m, minimum), cap)
    elif not for_min & for_cap:
        assert cut == min(cap - c, 0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(st.tuples(st.integers(0, 30 * 24 * 3600 - 1), st.integers(0, 900)), min_size=1, max_size=12),
    free=st.integers(0, 2000),
    boundary=st.integers(1, 3000),
)
def test_charged_plus_free_equals_the_usage_and_tiers_charge_the_rest(calls, free, boundary):
    cat = priced(
        core=NO_BASE_PRICE,
        free_quantities={"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "quantity": [str(free)]} if free else {"tariff_id": [], "article_id": [], "quantity": []},
        **tiers("graduated", fee=None, at_units=boundary),
    )
    start = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    records = usage(
        subscriber_id=[K_SEC] * len(calls),
        start_time=[start + dt.timedelta(seconds=s) for s, _ in calls],
        duration_s=[d for _, d in calls],
    )
    rated = rate_priced(records, cat).table("rated_usage").pl()
    used = sum(d for _, d in calls)  # per-second tariff: rated units are the seconds
    assert rated.get_column("quantity").sum() == used
    assert rated.select((pl.col("free_quantity") >= 0) & (pl.col("free_quantity") <= pl.col("quantity"))).to_series().all()
    assert rated.get_column("free_quantity").sum() == min(free, used)
    # graduated tiers at 0.06 then 0.03 per minute (1000 and 500 micro-units a second): exact per record
    charged = used - min(free, used)
    expected = Decimal(min(charged, boundary) * 1000 + max(charged - boundary, 0) * 500) / 1_000_000
    assert sum(rated.get_column("amount"), Decimal(0)) == expected
