"""Minimum revenue and cost cap on billed invoices: DOMAIN §4's worked examples end to end (catalog
files → rating → billing run), how runs settle a period's adjustment exactly once, and the whole
minimum of a period without usage."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import billing_factory as f
from pipeline.io.billing_files import load_catalogs
from pipeline.job import rate
from tests.factory import usage

D = Decimal

#: Articles "Dictation" 5 € per piece and "Research" 1 € per piece in tariff T1 (20 % VAT).
PIECES = {
    "articles": {
        **{k: [*v, None, None] for k, v in f.CORE["articles"].items()},
        "article_id": [*f.CORE["articles"]["article_id"], "DICTATION", "RESEARCH"],
        "name": [*f.CORE["articles"]["name"], "Dictation", "Research"],
        "unit": [*f.CORE["articles"]["unit"], "event", "event"],
        "price_per": [*f.CORE["articles"]["price_per"], "1", "1"],
    },
    "article_keys": {
        "article_key": [*f.CORE["article_keys"]["article_key"], "dictation", "research"],
        "zone_id": [*f.CORE["article_keys"]["zone_id"], None, None],
        "article_id": [*f.CORE["article_keys"]["article_id"], "DICTATION", "RESEARCH"],
    },
    "prices": {
        "tariff_id": [*f.CORE["prices"]["tariff_id"], "T1", "T1"],
        "article_id": [*f.CORE["prices"]["article_id"], "DICTATION", "RESEARCH"],
        "price": [*f.CORE["prices"]["price"], "5.00", "1.00"],
        "valid_from": [None] * 10,
        "valid_until": [None] * 10,
    },
}


def rules(kind: str, limit: str, article: str) -> dict[str, dict[str, list]]:
    """tariff_pricing.csv and tariff_articles.csv: T1 has `kind` (min_revenue or cost_cap) `limit`, `article` flagged."""
    return {
        "tariff_pricing": {"tariff_id": ["T1"], kind: [limit]},
        "tariff_articles": {"tariff_id": ["T1"], "article_id": [article], kind: ["true"]},
    }


def billed_pieces(tmp_path: Path, pricing: dict, dictations: int, researches: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Catalog files → rating → billing run 2026-10 (as `rating run` and `rating bill` do it); its items and invoices."""
    catalog_dir = f.write_catalog(tmp_path / "catalog", billing=pricing, **PIECES)
    cat, bil = load_catalogs(catalog_dir)
    keys = ["dictation"] * dictations + ["research"] * researches
    records = usage(subscriber_id=["4311"] * len(keys), article_key=keys, duration_s=[0] * len(keys), counterparty=[None] * len(keys),
                    start_time=[datetime(2026, 10, 5, 9, tzinfo=timezone.utc)] * len(keys))
    warehouse = tmp_path / "warehouse"
    f.store_rated(warehouse, rate(records, cat, "rate-1").table("rated_usage").to_arrow_table())
    f.bill(warehouse, cat, bil, period="2026-10")
    c1 = pl.col("contract_id") == "C1"  # C2 and C3 made no calls: they are billed T1's minimum alone
    items = f.stored(warehouse, "invoice_items").filter(c1).select("line_no", "line_kind", "article_id", "article_name", "quantity", "net_amount",
                                                        "vat_rate", "note")
    return items, f.stored(warehouse, "invoices").filter(c1).select("contract_id", "net_total", "vat_total", "gross_total")


def test_domain_example_minimum_revenue_15_eur(tmp_path) -> None:
    """Minimum revenue 10 €, only Research flagged; 1 Dictation and 5 Research: 5 € + max(5 €, 10 €) = 15 €."""
    items, invoices = billed_pieces(tmp_path, rules("min_revenue", "10", "RESEARCH"), 1, 5)
    assert items.rows() == [
        (1, "usage", "DICTATION", "Dictation", 1, D("5.00"), D("0.2000"), None),
        (2, "usage", "RESEARCH", "Research", 5, D("5.00"), D("0.2000"), None),
        (3, "adjustment", "MIN_REVENUE", "Minimum revenue", 1, D("5.00"), D("0.2000"),
         "minimum revenue 10.00 EUR on flagged usage 5.00 EUR"),
    ]
    assert invoices.rows() == [("C1", D("15.00"), D("3.00"), D("18.00"))]


def test_domain_example_cost_cap_15_eur(tmp_path) -> None:
    """Cost cap 10 €, only Research flagged; 1 Dictation and 20 Research: 5 € + min(20 €, 10 €) = 15 €."""
    items, invoices = billed_pieces(tmp_path, rules("cost_cap", "10", "RESEARCH"), 1, 20)
    assert items.rows() == [
        (1, "usage", "DICTATION", "Dictation", 1, D("5.00"), D("0.2000"), None),
        (2, "usage", "RESEARCH", "Research", 20, D("20.00"), D("0.2000"), None),
        (3, "adjustment", "COST_CAP", "Cost cap", 1, D("-10.00"), D("0.2000"), "cost cap 10.00 EUR on flagged usage 20.00 EUR"),
    ]
    assert invoices.rows() == [("C1", D("15.00"), D("3.00"), D("18.00"))]


def call(key: str, day: int, amount: str) -> dict:
    """A rated call of contract C1 on `day` October 2026 (T1's CALL, flagged for minimum revenue 10.00)."""
    return {"record_key": key, "contract_id": "C1", "start_time": datetime(2026, 10, day, 12, tzinfo=timezone.utc), "quantity": 60,
            "amount": D(amount)}


#: steps: ("usage", rated calls stored now) or ("bill", period, single-invoice until);
#: expected: every billed line of C1 per run: (run_id, line kind, period, net amount, note).
def c1_lines_after(warehouse, cat, bil, steps) -> list[tuple]:
    """C1's invoice lines (run, kind, period, net, note) after the literal steps: ("usage", records)
    stores rated calls; ("bill", period, until) bills a period, or C1 alone up to `until`."""
    for n, (kind, *args) in enumerate(steps):
        if kind == "usage":
            f.store_rated(warehouse, f.rated(args[0]), run_id=f"rate-{n}")
        else:
            period, until = args
            f.bill(warehouse, cat, bil, period=period, contract="C1" if until else None, until=until)
    items = f.stored(warehouse, "invoice_items").filter(pl.col("contract_id") == "C1")
    return items.sort("run_id", "line_no").select("run_id", "line_kind", "period", "net_amount", "note").rows()


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [("usage", [call("a", 3, "4.000000")]), ("bill", "2026-10", None), ("bill", "2026-10", None), ("bill", "2026-11", None)],
            [("period-2026-10", "usage", "2026-10", D("4.00"), None),
             ("period-2026-10", "adjustment", "2026-10", D("6.00"), "minimum revenue 10.00 EUR on flagged usage 4.00 EUR"),
             ("period-2026-11", "adjustment", "2026-11", D("10.00"), "minimum revenue 10.00 EUR on flagged usage 0.00 EUR")],
            id="a re-run adds nothing, the next run only its own period's minimum",
        ),
        pytest.param(
            [("usage", [call("a", 3, "4.000000")]), ("bill", "2026-10", None), ("usage", [call("late", 30, "3.000000")]),
             ("bill", "2026-11", None)],
            [("period-2026-10", "usage", "2026-10", D("4.00"), None),
             ("period-2026-10", "adjustment", "2026-10", D("6.00"), "minimum revenue 10.00 EUR on flagged usage 4.00 EUR"),
             ("period-2026-11", "usage", "2026-10", D("3.00"), None),
             ("period-2026-11", "adjustment", "2026-10", D("-3.00"),
              "minimum revenue 10.00 EUR on flagged usage 7.00 EUR; less 6.00 EUR billed on earlier invoices"),
             ("period-2026-11", "adjustment", "2026-11", D("10.00"), "minimum revenue 10.00 EUR on flagged usage 0.00 EUR")],
            id="late usage corrects the settled adjustment",
        ),
        pytest.param(
            [("usage", [call("a", 3, "4.000000")]), ("bill", None, date(2026, 10, 15)), ("usage", [call("b", 20, "2.000000")]),
             ("bill", "2026-10", None)],
            [("period-2026-10", "usage", "2026-10", D("2.00"), None),
             ("period-2026-10", "adjustment", "2026-10", D("4.00"), "minimum revenue 10.00 EUR on flagged usage 6.00 EUR"),
             ("single-C1-2026-10-15", "usage", "2026-10", D("4.00"), None)],
            id="a single invoice leaves the open month to the run that closes it",
        ),
        pytest.param(
            [("usage", [call("a", 3, "12.000000")]), ("bill", "2026-10", None)],
            [("period-2026-10", "usage", "2026-10", D("12.00"), None)],
            id="above the minimum no adjustment",
        ),
    ],
)
def test_a_period_is_adjusted_once_on_its_whole_usage(tmp_path, steps, expected) -> None:
    cat, bil = f.catalogs(pricing=rules("min_revenue", "10", "CALL"))
    assert c1_lines_after(tmp_path, cat, bil, steps) == expected


@pytest.mark.parametrize("single_first", [False, True], ids=["period-run-only", "single-invoice-first"])
def test_each_tariff_keeps_its_minimum_revenue_after_a_tariff_change_whatever_was_billed_first(tmp_path, single_first) -> None:
    """C2 changed tariff mid-October: a 3.00 call under T1, a 4.00 call under T2, each tariff with a
    10.00 minimum. The two usage lines of one invoice have one record each: they are told apart by
    amount, so T1 is topped up by 7.00 and T2 by 6.00 either way."""
    pricing = {"tariff_pricing": {"tariff_id": ["T1", "T2"], "min_revenue": ["10", "10"]},
               "tariff_articles": {"tariff_id": ["T1", "T2"], "article_id": ["CALL", "CALL"], "min_revenue": ["true", "true"]}}  # fmt: skip
    cat, bil = f.catalogs(pricing=pricing)
    calls = [
        {"record_key": key, "contract_id": "C2", "customer_id": "K2", "tariff_id": tariff, "quantity": 60, "amount": D(amount),
         "start_time": datetime(2026, 10, day, 9, tzinfo=timezone.utc)}
        for key, tariff, day, amount in (("a", "T1", 5, "3.00"), ("b", "T2", 17, "4.00"))
    ]  # fmt: skip
    f.store_rated(tmp_path, f.rated(calls))
    if single_first:
        f.bill(tmp_path, cat, bil, contract="C2", until=date(2026, 10, 20))
    f.bill(tmp_path, cat, bil, period="2026-10")
    items = f.stored(tmp_path, "invoice_items").filter((pl.col("contract_id") == "C2") & (pl.col("line_kind") == "adjustment"))
    assert items.get_column("net_amount").sum() == D("13.00")


@pytest.mark.parametrize(
    ("pauses", "adjustment", "active"),
    [
        ([], D("9.94"), None),
        ([("2026-10-01", "2026-10-31")], None, None),  # paused every day: nothing is billed while paused, no minimum
        ([("2026-09-20", "2026-10-15"), ("2026-10-16", "2026-11-03")], None, None),  # two pauses covering the month
        ([("2026-10-01", "2026-10-15")], D("9.94"), None),  # paused part of the month: the minimum stays whole
        # paused on every day the contract is active in the month, though not on every day of it
        ([("2026-10-05", "2026-10-31")], None, ("2026-10-05", None)),  # starts 5 October
        ([("2026-10-01", "2026-10-20")], None, ("2026-01-01", "2026-10-20")),  # ends 20 October
        ([("2026-10-05", "2026-10-19")], D("9.94"), ("2026-01-01", "2026-10-20")),  # active on 1-4 and 20 October
    ],
    ids=["active", "paused-all-month", "two-pauses-all-month", "paused-half", "starts-in-pause", "ends-in-pause",
         "ends-after-pause"],
)
def test_a_period_paused_on_every_day_has_no_minimum_revenue(tmp_path, pauses, adjustment, active) -> None:
    billing = {"pauses": {"contract_id": ["C1"] * len(pauses), "paused_from": [p[0] for p in pauses],
                          "paused_through": [p[1] for p in pauses], "reason": ["holiday"] * len(pauses)}} if pauses else {}  # fmt: skip
    dated = {} if active is None else {"contracts": contracts(C1=active)}
    cat, bil = f.catalogs(billing=billing, pricing=rules("min_revenue", "10", "CALL"), **dated)
    f.store_rated(tmp_path, f.rated([call("a", 10, "0.060000")]))
    f.bill(tmp_path, cat, bil, period="2026-10")
    items = f.stored(tmp_path, "invoice_items").filter(pl.col("contract_id") == "C1")
    lines = items.filter(pl.col("line_kind") == "adjustment").get_column("net_amount").to_list()
    assert lines == ([] if adjustment is None else [adjustment])
    assert items.filter(pl.col("line_kind") == "usage").get_column("net_amount").to_list() == [D("0.06")]  # usage is still billed


# -- a period without usage: the full minimum ------------------------------------------------

#: T1 has a minimum revenue of 15.00 on CALL, T2 one of 20.00 (both at 20 % VAT).
MINIMUMS = {"tariff_pricing": {"tariff_id": ["T1", "T2"], "min_revenue": ["15", "20"]},
            "tariff_articles": {"tariff_id": ["T1", "T2"], "article_id": ["CALL", "CALL"], "min_revenue": ["true", "true"]}}  # fmt: skip
NO_USAGE = "minimum revenue 15.00 EUR on flagged usage 0.00 EUR"


def contracts(**dates: tuple[str, str | None]) -> dict[str, list]:
    """CORE's contracts.csv with (start_date, end_date) given by contract id (`C1=("2026-10-31", None)`)."""
    table = f.CORE["contracts"]
    ids = table["contract_id"]
    return {**table, "start_date": [dates.get(c, (s, None))[0] for c, s in zip(ids, table["start_date"])],
            "end_date": [dates.get(c, (None, e))[1] for c, e in zip(ids, table["end_date"])]}  # fmt: skip


#: contracts: CORE's contracts.csv (C1 normal VAT, C2 reverse charge, C3 exempt, CT a test account,
#: all on T1); expected: every adjustment line of the run 2026-10, real and test:
#: (test, contract, period, net amount, VAT rate, note). None of them has any usage.
@pytest.mark.parametrize(
    ("contracts_csv", "expected"),
    [
        pytest.param(
            f.CORE["contracts"],
            [(False, "C1", "2026-10", D("15.00"), D("0.2000"), NO_USAGE),
             (False, "C2", "2026-10", D("15.00"), D("0.0000"), NO_USAGE),
             (False, "C3", "2026-10", D("15.00"), D("0.0000"), NO_USAGE),
             (True, "CT", "2026-10", D("15.00"), D("0.2000"), NO_USAGE)],
            id="the tariff's rate, 0 under reverse charge and exemption, test accounts apart",
        ),
        pytest.param(
            contracts(C1=("2026-10-31", None), C2=("2026-11-01", None), C3=("2026-01-01", "2026-09-30"), CT=("2026-01-01", "2026-10-01")),
            [(False, "C1", "2026-10", D("15.00"), D("0.2000"), NO_USAGE),
             (True, "CT", "2026-10", D("15.00"), D("0.2000"), NO_USAGE)],
            id="active on one day of the period: the whole minimum; not started or ended before: none",
        ),
        pytest.param(
            {**f.CORE["contracts"], "tariff_id": ["T1", "T2", "T2", "T2"]},
            [(False, "C1", "2026-10", D("15.00"), D("0.2000"), NO_USAGE),
             (False, "C2", "2026-10", D("20.00"), D("0.0000"), "minimum revenue 20.00 EUR on flagged usage 0.00 EUR"),
             (False, "C3", "2026-10", D("20.00"), D("0.0000"), "minimum revenue 20.00 EUR on flagged usage 0.00 EUR"),
             (True, "CT", "2026-10", D("20.00"), D("0.2000"), "minimum revenue 20.00 EUR on flagged usage 0.00 EUR")],
            id="each contract its tariff's minimum",
        ),
    ],
)
def test_a_period_without_usage_is_billed_the_whole_minimum(tmp_path, contracts_csv, expected) -> None:
    cat, bil = f.catalogs(pricing=MINIMUMS, contracts=contracts_csv)
    f.bill(tmp_path, cat, bil, period="2026-10")
    cols = ("contract_id", "period", "net_amount", "vat_rate", "note")
    got = [(test, *row) for test in (False, True)
           for row in f.stored(tmp_path, "invoice_items", test=test).filter(pl.col("line_kind") == "adjustment").sort("contract_id").select(cols).rows()]  # fmt: skip
    assert got == expected


def terms(billing_from: str) -> dict[str, list]:
    return {"contract_terms": {"contract_id": ["C1"], "billing_from": [billing_from]}}


def pauses(*spans: tuple[str, str]) -> dict[str, dict[str, list]]:
    return {"pauses": {"contract_id": ["C1"] * len(spans), "paused_from": [s[0] for s in spans],
                       "paused_through": [s[1] for s in spans], "reason": ["holiday"] * len(spans)}}  # fmt: skip


def ended_modules(*ends: str | None) -> dict[str, dict[str, list]]:
    """C1's modules M1, M2, … ending on `ends` (None: running), as a cancellation leaves them (the contract has no end_date)."""
    n = len(ends)
    return {"modules": {"module_id": [f"M{i + 1}" for i in range(n)], "contract_id": ["C1"] * n, "name": ["Phone"] * n,
                        "ordered_on": ["2026-01-01"] * n, "end_date": list(ends)}}  # fmt: skip


#: C1 moves from T1 (minimum 15.00) to T2 (minimum 20.00) on 15 October (UTC days, module M1).
TO_T2 = {"modules": {"module_id": ["M1"], "contract_id": ["C1"], "name": ["Phone"], "ordered_on": ["2026-01-01"]},
         "module_tariffs": {"module_id": ["M1", "M1"], "tariff_id": ["T1", "T2"], "valid_from": ["2026-01-01", "2026-10-15"],
                            "valid_until": ["2026-10-15", None]}}  # fmt: skip


#: billing: billing tables; steps: ("usage", rated calls stored now) or ("bill", period, single-invoice until);
#: expected: every billed usage and adjustment line of C1 per run: (run_id, line kind, period, net amount, note).
@pytest.mark.parametrize(
    ("billing", "steps", "expected"),
    [
        pytest.param(
            {}, [("bill", "2026-10", None), ("bill", "2026-10", None), ("bill", "2026-11", None)],
            [("period-2026-10", "adjustment", "2026-10", D("15.00"), NO_USAGE),
             ("period-2026-11", "adjustment", "2026-11", D("15.00"), "minimum revenue 15.00 EUR on flagged usage 0.00 EUR")],
            id="a re-run adds nothing, the next run settles only its own period",
        ),
        pytest.param(
            {}, [("bill", "2026-10", None), ("usage", [call("late", 30, "4.000000")]), ("bill", "2026-11", None)],
            [("period-2026-10", "adjustment", "2026-10", D("15.00"), NO_USAGE),
             ("period-2026-11", "usage", "2026-10", D("4.00"), None),
             ("period-2026-11", "adjustment", "2026-10", D("-4.00"),
              "minimum revenue 15.00 EUR on flagged usage 4.00 EUR; less 15.00 EUR billed on earlier invoices"),
             ("period-2026-11", "adjustment", "2026-11", D("15.00"), NO_USAGE)],
            id="late usage corrects the minimum of a period without usage",
        ),
        pytest.param(
            {}, [("bill", None, date(2026, 10, 15)), ("bill", "2026-10", None)],
            [("period-2026-10", "adjustment", "2026-10", D("15.00"), NO_USAGE)],
            id="a single invoice leaves the open month to the run that closes it",
        ),
        pytest.param(
            {}, [("bill", None, date(2026, 10, 31)), ("bill", "2026-10", None)],
            [("single-C1-2026-10-31", "adjustment", "2026-10", D("15.00"), NO_USAGE)],
            id="a single invoice closing the month settles it once",
        ),
        pytest.param(pauses(("2026-10-01", "2026-10-31")), [("bill", "2026-10", None)], [], id="paused every day: none"),
        pytest.param(pauses(("2026-10-01", "2026-10-15")), [("bill", "2026-10", None)],
                     [("period-2026-10", "adjustment", "2026-10", D("15.00"), NO_USAGE)], id="paused half the month: whole"),
        pytest.param(terms("2026-11-01"), [("bill", "2026-10", None)], [], id="nothing before billing_from"),
        pytest.param(
            terms("2026-11-01"), [("usage", [call("early", 10, "2.000000")]), ("bill", "2026-10", None), ("bill", "2026-11", None)],
            [("period-2026-11", "adjustment", "2026-11", D("15.00"), "minimum revenue 15.00 EUR on flagged usage 0.00 EUR")],
            id="usage before billing_from is never billed and brings in no minimum",
        ),
        pytest.param(ended_modules("2026-09-30"), [("bill", "2026-10", None)], [], id="every module ended (cancelled) before: none"),
        pytest.param(ended_modules("2026-10-01", None), [("bill", "2026-10", None)],
                     [("period-2026-10", "adjustment", "2026-10", D("15.00"), NO_USAGE)], id="one module still running: whole"),
        pytest.param(ended_modules("2026-10-01", "2026-09-30"), [("bill", "2026-10", None)],
                     [("period-2026-10", "adjustment", "2026-10", D("15.00"), NO_USAGE)], id="the last module ends in the period: whole"),
        pytest.param({**ended_modules("2026-10-15"), **pauses(("2026-10-01", "2026-10-15"))}, [("bill", "2026-10", None)], [],
                     id="paused on every day before the last module ends: none"),
        pytest.param({**ended_modules("2026-09-30"), **pauses(("2025-03-01", "2025-03-02"))},
                     [("usage", [call("a", 10, "1.000000")]), ("bill", "2026-10", None)],
                     [("period-2026-10", "usage", "2026-10", D("1.00"), None),
                      ("period-2026-10", "adjustment", "2026-10", D("14.00"), "minimum revenue 15.00 EUR on flagged usage 1.00 EUR")],
                     id="usage after the last module ended: a pause long before changes nothing"),
        # no active day in October, but October paused throughout: nothing is billed while paused (DOMAIN §2)
        pytest.param({**ended_modules("2026-09-30"), **pauses(("2026-10-01", "2026-10-31"))},
                     [("usage", [call("a", 10, "1.000000")]), ("bill", "2026-10", None)],
                     [("period-2026-10", "usage", "2026-10", D("1.00"), None)],
                     id="usage after the last module ended in a month paused throughout: none"),
        pytest.param({**ended_modules("2026-09-30"), **pauses(("2026-10-01", "2026-10-15"))},
                     [("usage", [call("a", 10, "1.000000")]), ("bill", "2026-10", None)],
                     [("period-2026-10", "usage", "2026-10", D("1.00"), None),
                      ("period-2026-10", "adjustment", "2026-10", D("14.00"), "minimum revenue 15.00 EUR on flagged usage 1.00 EUR")],
                     id="usage after the last module ended in a month paused half: whole"),
        pytest.param(
            TO_T2, [("bill", "2026-10", None)],
            [("period-2026-10", "adjustment", "2026-10", D("20.00"), "minimum revenue 20.00 EUR on flagged usage 0.00 EUR")],
            id="a tariff change: the tariff of the period's last active day",
        ),
    ],
)
def test_a_period_without_usage_is_settled_once(tmp_path, billing, steps, expected) -> None:
    cat, bil = f.catalogs(billing=billing, pricing=MINIMUMS)
    assert c1_lines_after(tmp_path, cat, bil, steps) == expected
