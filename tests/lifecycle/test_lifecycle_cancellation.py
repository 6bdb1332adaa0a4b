"""Cancellation dates: the DOMAIN examples verbatim, then every rule, then whole modules."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import polars as pl
import pytest

import billing_factory as f
from pipeline.catalog import CatalogError
from pipeline.lifecycle import Actor, LifecycleError, PermissionDenied, cancellation_dates, module_cancellation
from pipeline.lifecycle.cancellation import REQUEST_SCHEMA

MANAGER, CLIENT = Actor("mia", "Manager"), Actor("carl", "Client")


def notice(rule: str, ordered_on: date, notice_on: date, notice_months: int, term_months: int | None = None) -> dict:
    """One cancellation, as (end_date, last_notice_day, renewed)."""
    request = pl.DataFrame(
        {"id": ["x"], "rule": [rule], "ordered_on": [ordered_on], "term_months": [term_months],
         "notice_months": [notice_months], "notice_on": [notice_on]},
        schema=REQUEST_SCHEMA,
    )
    return cancellation_dates(request).select("end_date", "last_notice_day", "renewed").row(0, named=True)


def test_monthly_cancel_on_1_june_ends_31_july() -> None:
    assert notice("monthly", date(2026, 1, 1), date(2026, 6, 1), 1)["end_date"] == date(2026, 7, 31)


def test_monthly_cancel_on_30_june_ends_31_july() -> None:
    assert notice("monthly", date(2026, 1, 1), date(2026, 6, 30), 1)["end_date"] == date(2026, 7, 31)


def test_yearly_term_ending_7_august_last_notice_day_6_may() -> None:
    """Ordered 8 August 2025: the one-year term ends 7 August 2026; notice three months before."""
    assert notice("yearly", date(2025, 8, 8), date(2026, 5, 6), 3, 12) == {
        "end_date": date(2026, 8, 7), "last_notice_day": date(2026, 5, 6), "renewed": False,
    }


def test_yearly_term_ending_7_august_renews_without_notice_by_6_may() -> None:
    assert notice("yearly", date(2025, 8, 8), date(2026, 5, 7), 3, 12) == {
        "end_date": date(2027, 8, 7), "last_notice_day": date(2027, 5, 6), "renewed": True,
    }


@pytest.mark.parametrize(
    ("rule", "ordered_on", "notice_on", "notice_months", "term_months", "end_date", "last_notice_day", "renewed"),
    [
        ("none", date(2026, 1, 1), date(2026, 3, 17), 0, None, date(2026, 3, 17), date(2026, 3, 17), False),
        ("monthly", date(2026, 1, 1), date(2026, 1, 31), 1, None, date(2026, 2, 28), date(2026, 1, 31), False),
        ("monthly", date(2026, 1, 1), date(2026, 6, 1), 2, None, date(2026, 8, 31), date(2026, 6, 30), False),
        ("monthly", date(2026, 1, 1), date(2026, 6, 1), 0, None, date(2026, 6, 30), date(2026, 6, 30), False),
        # a minimum term of 12 months from 1 January: notice in March still runs to 31 December
        ("monthly", date(2026, 1, 1), date(2026, 3, 10), 1, 12, date(2026, 12, 31), date(2026, 11, 30), False),
        # ordered mid-month: the term ends 14 January, the contract at the end of that month
        ("monthly", date(2026, 1, 15), date(2026, 3, 10), 1, 12, date(2027, 1, 31), date(2026, 12, 31), False),
        ("monthly", date(2026, 1, 15), date(2026, 12, 31), 1, 12, date(2027, 1, 31), date(2026, 12, 31), False),
        ("monthly", date(2026, 1, 15), date(2027, 1, 1), 1, 12, date(2027, 2, 28), date(2027, 1, 31), False),
        # yearly: the third term, and a notice long before the end
        ("yearly", date(2023, 8, 8), date(2026, 2, 1), 3, 12, date(2026, 8, 7), date(2026, 5, 6), False),
        ("yearly", date(2026, 1, 1), date(2026, 1, 2), 3, 24, date(2027, 12, 31), date(2027, 9, 29), False),
        ("yearly", date(2026, 1, 1), date(2027, 10, 1), 3, 24, date(2029, 12, 31), date(2029, 9, 29), True),
    ],
)
def test_cancellation_rules(rule, ordered_on, notice_on, notice_months, term_months, end_date, last_notice_day, renewed) -> None:
    assert notice(rule, ordered_on, notice_on, notice_months, term_months) == {
        "end_date": end_date, "last_notice_day": last_notice_day, "renewed": renewed,
    }


def lifecycle_catalogs(**billing):
    return f.catalogs(billing={
        "tariff_terms": {"tariff_id": ["T1", "T2"], "cancellation": ["monthly", "yearly"], "term_months": [None, "12"],
                         "notice_months": ["1", "3"], "proration": ["days", "days"], "public": ["true", "true"]},
        "article_terms": {"article_id": ["RENT"], "cancellation": ["yearly"], "term_months": ["12"], "notice_months": ["3"],
                          "addon": ["false"]},
        "modules": {"module_id": ["M1", "M2"], "contract_id": ["C1", "C2"], "name": ["Phone", "Phone"],
                    "ordered_on": ["2025-08-08", "2026-01-01"], "cancelled_on": [None, None], "end_date": [None, None]},
        "positions": f.positions([
            ("P1", "C1", "FEE", "recurring", "monthly", None, None, None, None, "M1"),
            ("P2", "C1", "RENT", "recurring", "yearly", None, None, None, None, "M1"),
            ("P3", "C1", "FEE", "recurring", "monthly", None, None),
            ("P4", "C2", "FEE", "recurring", "monthly", None, None, None, None, "M2"),
        ]),
        **billing,
    })


def test_a_module_ends_by_its_tariff_and_an_article_by_its_own_notice() -> None:
    cat, bil = lifecycle_catalogs()
    change = module_cancellation(cat, bil, "C1", "M1", date(2026, 6, 1), CLIENT)
    assert change.result.rows() == [
        ("M1", "monthly", date(2026, 6, 1), date(2026, 7, 31), date(2026, 6, 30), False, None),
        ("P1", "monthly", date(2026, 6, 1), date(2026, 7, 31), date(2026, 6, 30), False, "ends with module M1"),
        ("P2", "yearly", date(2026, 6, 1), date(2027, 8, 7), date(2027, 5, 6), True, "own notice of its article"),
    ]
    old, new = change.tables["positions"]
    assert new.select("position_id", "end_date").rows() == [
        ("P1", date(2026, 7, 31)), ("P2", date(2027, 8, 7)), ("P3", None), ("P4", None),
    ]
    modules = change.tables["modules"][1]
    assert modules.select("module_id", "cancelled_on", "end_date").rows() == [
        ("M1", date(2026, 6, 1), date(2026, 7, 31)), ("M2", None, None),
    ]


@pytest.mark.parametrize(
    ("actor", "end", "expected"),
    [
        (CLIENT, None, ("M1", date(2026, 6, 1), date(2026, 7, 31), "keeps its earlier end date")),
        (MANAGER, date(2026, 12, 31), ("M1", date(2026, 6, 1), date(2026, 7, 31), "keeps its earlier end date")),
        (MANAGER, date(2026, 6, 30), ("M1", date(2026, 9, 1), date(2026, 6, 30), None)),  # an earlier end is a new cancellation
    ],
)
def test_a_second_notice_never_prolongs_a_cancelled_module(actor, end, expected) -> None:
    cat, bil = lifecycle_catalogs()
    first = module_cancellation(cat, bil, "C1", "M1", date(2026, 6, 1), CLIENT)  # ends 31 July
    bil = replace(bil, modules=first.tables["modules"][1], positions=first.tables["positions"][1])
    second = module_cancellation(cat, bil, "C1", "M1", date(2026, 9, 1), actor, end=end)
    module = second.tables["modules"][1].filter(pl.col("module_id") == "M1")
    assert (*module.select("module_id", "cancelled_on", "end_date").row(0), second.result["note"][0]) == expected
    assert second.tables["positions"][1].filter(pl.col("position_id") == "P1")["end_date"][0] == expected[2]


def test_a_module_under_a_changed_tariff_follows_the_tariff_of_the_notice_day() -> None:
    cat, bil = lifecycle_catalogs(module_tariffs={"module_id": ["M2", "M2"], "tariff_id": ["T1", "T2"],
                                                  "valid_from": ["2026-01-01", "2026-05-01"], "valid_until": ["2026-05-01", None]})
    early = module_cancellation(cat, bil, "C2", "M2", date(2026, 3, 2), CLIENT).result
    late = module_cancellation(cat, bil, "C2", "M2", date(2026, 6, 2), CLIENT).result
    assert early.select("rule", "end_date").row(0) == ("monthly", date(2026, 4, 30))
    assert late.select("rule", "end_date").row(0) == ("yearly", date(2026, 12, 31))


def test_a_deviating_end_date_is_for_a_manager() -> None:
    cat, bil = lifecycle_catalogs()
    change = module_cancellation(cat, bil, "C1", "M1", date(2026, 6, 1), MANAGER, end=date(2026, 6, 15))
    assert change.tables["positions"][1].select("position_id", "end_date").rows()[:2] == [
        ("P1", date(2026, 6, 15)), ("P2", date(2026, 6, 15)),
    ]
    with pytest.raises(PermissionDenied, match="only the role Manager may set a cancellation date that deviates"):
        module_cancellation(cat, bil, "C1", "M1", date(2026, 6, 1), CLIENT, end=date(2026, 6, 15))


@pytest.mark.parametrize(
    ("contract", "module", "billing", "message"),
    [
        ("C2", "M1", {}, "module 'M1' is not a module of contract 'C2'"),
        ("C1", "M1", {"tariff_terms": {"tariff_id": ["T2"], "cancellation": ["none"], "notice_months": ["0"]}},
         "tariff 'T1' of module 'M1' has no cancellation rules: add a row to tariff_terms.csv"),
    ],
)
def test_cancellations_that_cannot_be_made(contract, module, billing, message) -> None:
    cat, bil = lifecycle_catalogs(**billing)
    with pytest.raises(LifecycleError, match=message):
        module_cancellation(cat, bil, contract, module, date(2026, 6, 1), MANAGER)


@pytest.mark.parametrize(
    ("cancellation", "term_months", "notice_months", "expected"),
    [
        # (rule, end_date, last_notice_day, renewed); the module runs under T2 (yearly, 12-month term) to 31 Dec
        ("monthly", None, "1", ("monthly", date(2026, 7, 31), date(2026, 6, 30), False)),
        ("monthly", "24", "1", ("monthly", date(2027, 12, 31), date(2027, 11, 30), False)),
        ("monthly", None, None, ("monthly", date(2026, 7, 31), date(2026, 6, 30), False)),
        ("yearly", "3", None, ("yearly", date(2026, 9, 30), date(2026, 6, 29), True)),
        ("none", None, None, ("none", date(2026, 6, 1), date(2026, 6, 1), False)),
    ],
    ids=["monthly-no-term-of-its-own", "monthly-own-term", "monthly-standard-notice", "yearly-standard-notice", "none"],
)
def test_an_articles_own_notice_uses_its_own_terms_only(cancellation, term_months, notice_months, expected) -> None:
    """Not the tariff's 12-month minimum term nor its 3 months' notice: no term of its own, no minimum
    term; no notice of its own, the rule's standard notice (none 0, monthly 1, yearly 3)."""
    cat, bil = lifecycle_catalogs(
        article_terms={"article_id": ["RENT"], "cancellation": [cancellation], "term_months": [term_months],
                       "notice_months": [notice_months], "addon": ["false"]},
        module_tariffs={"module_id": ["M2"], "tariff_id": ["T2"], "valid_from": ["2026-01-01"], "valid_until": [None]},
        positions=f.positions([("P4", "C2", "FEE", "recurring", "monthly", None, None, None, None, "M2"),
                               ("P5", "C2", "RENT", "recurring", "monthly", None, None, None, None, "M2")]),
    )
    result = module_cancellation(cat, bil, "C2", "M2", date(2026, 6, 1), CLIENT).result
    assert result.select("id", "rule", "end_date").rows()[:2] == [
        ("M2", "yearly", date(2026, 12, 31)), ("P4", "yearly", date(2026, 12, 31)),
    ]
    assert result.filter(pl.col("id") == "P5").select("rule", "end_date", "last_notice_day", "renewed").row(0) == expected


BEFORE_START = "cancelled before it started (starts {}): never billed"


@pytest.mark.parametrize(
    ("actor", "end", "expected"),
    [
        # M1 (monthly) ends 31 July: a position starting after that ends the day before it starts
        (CLIENT, None, [("P1", date(2026, 7, 31), "ends with module M1"),
                        ("P5", date(2026, 9, 30), BEFORE_START.format("2026-10-01")),
                        ("P6", date(2026, 7, 31), BEFORE_START.format("2026-08-01")),
                        ("P7", date(2026, 7, 31), "ends with module M1"),
                        ("P8", date(2026, 6, 30), "keeps its earlier end date")]),
        (MANAGER, date(2026, 6, 15), [("P1", date(2026, 6, 15), "ends with module M1"),
                                      ("P5", date(2026, 9, 30), BEFORE_START.format("2026-10-01")),
                                      ("P6", date(2026, 7, 31), BEFORE_START.format("2026-08-01")),
                                      ("P7", date(2026, 7, 30), BEFORE_START.format("2026-07-31")),
                                      ("P8", date(2026, 6, 15), "ends with module M1")]),
    ],
    ids=["by-the-rules", "deviating-end"],
)
def test_a_position_starting_after_its_module_ends_is_cancelled_before_it_started(actor, end, expected) -> None:
    cat, bil = lifecycle_catalogs(positions=f.positions([
        ("P1", "C1", "FEE", "recurring", "monthly", None, None, None, None, "M1"),
        ("P5", "C1", "FEE", "recurring", "monthly", "2026-10-01", None, None, None, "M1"),
        ("P6", "C1", "SETUP", "one_time", None, "2026-08-01", None, None, None, "M1"),
        ("P7", "C1", "FEE", "recurring", "monthly", "2026-07-31", None, None, None, "M1"),
        ("P8", "C1", "FEE", "recurring", "monthly", None, "2026-06-30", None, None, "M1"),
        ("P9", "C1", "FEE", "recurring", "monthly", "2026-10-01", None),
    ]))
    change = module_cancellation(cat, bil, "C1", "M1", date(2026, 6, 1), actor, end=end)
    assert change.result.filter(pl.col("id") != "M1").select("id", "end_date", "note").rows() == expected
    new = change.tables["positions"][1]
    assert new.select("position_id", "end_date").rows() == [(p, e) for p, e, _ in expected] + [("P9", None)]


@pytest.mark.parametrize(
    ("billing", "message"),
    [
        ({"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-10-01", "2026-09-30")])}, None),
        ({"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-10-01", "2026-09-29")])},
         "positions.csv:2: column 'end_date': value '2026-09-29' breaks rule end_date must not be before start_date"),
        ({"article_terms": {"article_id": ["RENT"], "cancellation": ["yearly"], "notice_months": ["3"]}},
         "article_terms.csv:2: column 'term_months': value (empty) breaks rule yearly cancellation needs a minimum term"),
    ],
    ids=["cancelled-before-it-started", "ends-two-days-before-start", "own-yearly-without-term"],
)
def test_catalog_rules_of_cancellation(billing, message) -> None:
    if message is None:
        assert f.catalogs(billing=billing)[1].positions["end_date"].to_list() == [date(2026, 9, 30)]
    else:
        with pytest.raises(CatalogError, match=re.escape(message)):
            f.catalogs(billing=billing)
