"""Rules together in one billing period, as the issue lists them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.price import adjustment_rules, usage_adjustments
from tests.price.factory import K_SEC, calls, priced, rate_priced, rated
from tests.price.test_rules import BANDS, FREE_100, NO_BASE_PRICE, tiers

D = Decimal


def total(result, cat) -> Decimal:
    """What the period's invoice adds up to: the rounded usage lines plus the adjustment lines."""
    lines = result.table("invoice_lines").pl()
    adjustments = usage_adjustments(lines, adjustment_rules(cat))
    return sum(lines.get_column("net_amount").to_list(), D("0")) + sum(adjustments.get_column("net_amount").to_list(), D("0"))


def test_free_minutes_then_graduated_tiers_then_the_cost_cap():
    cat = priced(
        core=NO_BASE_PRICE,
        free_quantities={"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "quantity": ["60"]},
        tariff_pricing={"tariff_id": ["T-SEC"], "cost_cap": ["0.10"]},
        tariff_articles={"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "cost_cap": ["true"]},
        **tiers("graduated", fee=None),
    )
    records = calls(K_SEC, *[(f"2026-10-0{d} 10:00:00", 60) for d in range(1, 5)])
    result = rate_priced(records, cat)
    # 60 s free; the next 120 charged seconds at 0.06/min (tier 1), the last 60 at 0.03/min (tier 2)
    assert rated(result, "free_quantity", "tier", "amount").rows() == [
        (60, None, D("0.000000")), (0, 1, D("0.060000")), (0, 1, D("0.060000")), (0, 2, D("0.030000")),
    ]
    assert result.table("invoice_lines").pl().get_column("net_amount").to_list() == [D("0.15")]
    assert total(result, cat) == D("0.10")  # capped


def test_a_promotion_ending_mid_period():
    cat = priced(
        promotions={
            "promotion_id": ["OCT"], "tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "price": ["0.0300"],
            "valid_from": ["2026-10-01 00:00:00"], "valid_until": ["2026-10-15 00:00:00"],
        },
        **FREE_100,
    )
    # the free 100 s go first, whatever the price; a call is priced by its start
    records = calls(K_SEC, ("2026-10-14 23:58:00", 120), ("2026-10-14 23:59:30", 60), ("2026-10-15 00:00:00", 60))
    result = rate_priced(records, cat)
    assert rated(result, "price_source", "free_quantity", "amount").rows() == [
        ("promotion", 100, D("0.010000")), ("promotion", 0, D("0.030000")), ("tariff", 0, D("0.060000")),
    ]
    assert result.table("invoice_lines").pl().get_column("net_amount").to_list() == [D("0.10")]


def test_a_call_across_a_band_boundary_with_free_minutes():
    result = rate_priced(calls(K_SEC, ("2026-10-01 15:59:00", 360)), priced(**BANDS, **FREE_100))
    # 17:59 local is peak: 260 charged seconds at the peak price, none at the off-peak one
    assert rated(result, "band", "free_quantity", "amount").row(0) == ("peak", 100, D("0.260000"))


def test_the_record_that_crosses_the_free_quantity_is_split():
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60), ("2026-10-01 11:00:00", 90)), priced(**FREE_100))
    assert rated(result, "quantity", "free_quantity", "amount").rows() == [(60, 60, D("0.000000")), (90, 40, D("0.050000"))]


def test_a_later_run_of_the_period_goes_on_where_the_earlier_one_stopped():
    from pipeline.job import rate
    from pipeline.price import carry_in

    cat = priced(core=NO_BASE_PRICE, **FREE_100, **tiers("graduated", fee=None))
    whole = rate(calls(K_SEC, ("2026-10-01 10:00:00", 90), ("2026-10-02 10:00:00", 90), ("2026-10-03 10:00:00", 90)), cat, "all")
    first = rate(calls(K_SEC, ("2026-10-01 10:00:00", 90)), cat, "one")
    later = calls(K_SEC, ("2026-10-02 10:00:00", 90), ("2026-10-03 10:00:00", 90), source_line=[2, 3])
    second = rate(later, cat, "two", earlier=carry_in(first.table("rated_usage").pl()))
    split = first.table("rated_usage").pl().vstack(second.table("rated_usage").pl())
    columns = ("source_line", "free_quantity", "tier", "amount")
    assert split.sort("source_line").select(columns).rows() == rated(whole, *columns).rows()


def test_a_later_run_goes_on_from_the_earlier_runs_invoice_lines_in_the_warehouse(tmp_path):
    """The main job's way: each run stores its invoice lines; the next run of the period carries
    their units (warehouse.carried_usage), so the free minutes are granted once per period."""
    from pipeline.io import warehouse
    from pipeline.job import rate

    cat = priced(core=NO_BASE_PRICE, **FREE_100, **tiers("graduated", fee=None))
    whole = rate(calls(K_SEC, ("2026-10-01 10:00:00", 90), ("2026-10-02 10:00:00", 90), ("2026-10-03 10:00:00", 90)), cat, "all")
    first = rate(calls(K_SEC, ("2026-10-01 10:00:00", 90)), cat, "one")
    store(tmp_path, first, "2026-10-01 12:00:00")
    earlier = warehouse.carried_usage(tmp_path, "two", periods=["2026-10"])
    assert earlier.rows() == [("K-SEC", "T-SEC", "A-NAT", "2026-10", 90)]
    batch = calls(K_SEC, ("2026-10-02 10:00:00", 90), ("2026-10-03 10:00:00", 90), source_line=[2, 3])
    second = rate(batch, cat, "two", earlier=earlier)
    split = first.table("rated_usage").pl().vstack(second.table("rated_usage").pl())
    columns = ("source_line", "free_quantity", "tier", "amount")
    assert split.sort("source_line").select(columns).rows() == rated(whole, *columns).rows()
    assert warehouse.carried_usage(tmp_path, "two", periods=["2026-11"]).height == 0


@pytest.mark.parametrize(
    ("rerun", "carried"),
    [
        # A re-run of the first run carries nothing: the second run came after it and already carried its units
        ("one", []),
        # a re-run of the second run carries the first run's units, as its first execution did
        ("two", [("K-SEC", "T-SEC", "A-NAT", "2026-10", 60)]),
        # a new run carries both
        ("three", [("K-SEC", "T-SEC", "A-NAT", "2026-10", 120)]),
    ],
)
def test_a_rerun_carries_only_the_runs_that_came_before_its_first_start(tmp_path, rerun, carried):
    from pipeline.io import warehouse
    from pipeline.job import rate

    cat = priced(**FREE_100)
    store(tmp_path, rate(calls(K_SEC, ("2026-10-02 10:00:00", 60)), cat, "one"), "2026-10-02 12:00:00")
    store(tmp_path, rate(calls(K_SEC, ("2026-10-03 10:00:00", 60), source_line=[2]), cat, "two"), "2026-10-03 12:00:00")
    assert warehouse.carried_usage(tmp_path, rerun, periods=["2026-10"]).rows() == carried


def store(warehouse_dir, result, started_at: str) -> None:
    """A run's tables and its runs row, as the flow stores them."""
    from datetime import datetime, timezone

    from pipeline.io import warehouse
    from pipeline.ledger import run_record

    started = datetime.fromisoformat(started_at).replace(tzinfo=timezone.utc)
    runs = run_record(result.run_id, started, started, 1, result.input_records, result.net_amount)
    warehouse.write_run(result.stored_tables(runs), warehouse_dir, result.run_id)
