"""Billing rules, one table per rule: proration, pauses, overrides, index adjustment, VAT,
headers, numbering, late usage, test accounts, single invoices, problems (adjustments: test_bill_adjustments.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import billing_factory as f
from pipeline.bill.invoices import BillingError, billing_request
from pipeline.catalog import CatalogError
from pipeline.lifecycle import Actor, catalog_on, index_adjusted

D = Decimal
MANAGER = Actor("mia", "Manager")


def terms(proration: str = "days") -> dict[str, list]:
    return {"tariff_id": ["T1"], "cancellation": ["monthly"], "term_months": [None], "notice_months": ["1"],
            "proration": [proration], "public": ["true"]}


def fee_lines(warehouse: Path, position: str = "P1") -> pl.DataFrame:
    items = f.stored(warehouse, "invoice_items").join(
        f.stored(warehouse, "invoices").select("invoice_id", pl.col("period").alias("run_period")), on="invoice_id"
    )
    return items.filter(pl.col("position_id") == position).sort("run_period", "service_from")


def run_months(warehouse: Path, cat, bil, months: range, year: int = 2026) -> None:
    for m in months:  # a handful of monthly runs
        f.bill(warehouse, cat, bil, period=f.ym(year, m))


@pytest.mark.parametrize(
    ("proration", "start", "end", "expected"),
    [
        # run period, service from, service to, days charged / basis, net
        ("days", "2026-01-15", None, [("2026-01", "2026-01-15", "2026-01-31", 17, 31, D("5.48")),
                                     ("2026-02", "2026-02-01", "2026-02-28", 28, 28, D("10.00")),
                                     ("2026-03", "2026-03-01", "2026-03-31", 31, 31, D("10.00"))]),
        ("days", None, "2026-02-10", [("2026-01", "2026-01-01", "2026-01-31", 31, 31, D("10.00")),
                                     ("2026-02", "2026-02-01", "2026-02-10", 10, 28, D("3.57"))]),
        ("full", "2026-01-15", None, [("2026-01", "2026-01-15", "2026-01-31", 17, 17, D("10.00")),
                                     ("2026-02", "2026-02-01", "2026-02-28", 28, 28, D("10.00")),
                                     ("2026-03", "2026-03-01", "2026-03-31", 31, 31, D("10.00"))]),
        ("full", None, "2026-02-10", [("2026-01", "2026-01-01", "2026-01-31", 31, 31, D("10.00")),
                                     ("2026-02", "2026-02-01", "2026-02-10", 10, 10, D("10.00"))]),
    ],
    ids=["days-first", "days-last", "full-first", "full-last"],
)
def test_proration_at_start_and_end(tmp_path, proration, start, end, expected) -> None:
    cat, bil = f.catalogs(billing={
        "tariff_terms": terms(proration),
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", start, end)]),
    })
    run_months(tmp_path, cat, bil, range(1, 4))
    got = fee_lines(tmp_path).select(
        "run_period", pl.col("service_from").cast(pl.String), pl.col("service_to").cast(pl.String),
        "days_charged", "days_basis", "net_amount",
    )
    assert got.rows() == expected


def test_proration_of_a_quarter_x3_by_days(tmp_path) -> None:
    """A monthly-priced article billed ×3 per quarter, starting 1 February: 2/3 of 30.00 by days."""
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "quarterly_x3", "2026-02-01", None)])})
    run_months(tmp_path, cat, bil, range(1, 5))
    got = fee_lines(tmp_path).select("run_period", "quantity", "days_charged", "days_basis", "net_amount")
    # billed with the first run on or after its first day (February), for the quarter from January
    assert got.rows() == [("2026-02", 3, 59, 90, D("19.67")), ("2026-04", 3, 91, 91, D("30.00"))]


@pytest.mark.parametrize(
    ("pause", "expected"),
    [
        # a pause across the January/February boundary
        (("2026-01-25", "2026-02-04"), [("2026-01", 24, 31, D("7.74"), "7 paused days not charged"),
                                        ("2026-02", 24, 28, D("8.57"), "4 paused days not charged"),
                                        ("2026-03", 31, 31, D("10.00"), None)]),
        # a whole month paused: no line, the month is still never billed later
        (("2026-02-01", "2026-02-28"), [("2026-01", 31, 31, D("10.00"), None),
                                        ("2026-03", 31, 31, D("10.00"), None)]),
    ],
    ids=["across-boundary", "whole-month"],
)
def test_pauses_bill_nothing_for_paused_days(tmp_path, pause, expected) -> None:
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)]),
        "pauses": {"contract_id": ["C1"], "paused_from": [pause[0]], "paused_through": [pause[1]], "reason": ["closed"]},
    })
    run_months(tmp_path, cat, bil, range(1, 4))
    got = fee_lines(tmp_path).select("run_period", "days_charged", "days_basis", "net_amount", "note")
    assert got.rows() == expected
    history = f.stored(tmp_path, "billing_history").sort("period_start")
    assert history["period_start"].to_list() == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]


def test_price_override_from_mid_year(tmp_path) -> None:
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)]),
        "position_prices": {"position_id": ["P1"], "kind": ["override"], "price": ["8.00"], "valid_from": ["2026-07-01"],
                            "valid_until": ["2026-10-01"], "reason": ["summer deal"]},
    })
    run_months(tmp_path, cat, bil, range(1, 13))
    got = fee_lines(tmp_path).select("unit_price", "price_source", "net_amount").rows()
    assert got == (
        [(D("10.000000"), "list", D("10.00"))] * 6
        + [(D("8.000000"), "override: summer deal", D("8.00"))] * 3
        + [(D("10.000000"), "list", D("10.00"))] * 3
    )


def test_index_adjustment_from_mid_year_keeps_earlier_prices(tmp_path) -> None:
    """Adjusted before any run: the first half still bills at the old price, the second at ×1.032;
    the yearly rent, billed in January, is split by days: 120.00 × 181/365 + 123.84 × 184/365."""
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None),
                                  ("P2", "C1", "RENT", "recurring", "yearly", None, None)]),
        "position_prices": {"position_id": ["P1"], "kind": ["override"], "price": ["9.00"], "valid_from": ["2026-06-01"],
                            "valid_until": ["2026-09-01"], "reason": ["promo"]},
    })
    change = index_adjusted(cat, bil, "1.032", date(2026, 7, 1), MANAGER)
    assert change.result.select("position_id", "kind", "price", "valid_from", "valid_until").rows() == [
        ("P1", "list_index", D("10.320000"), date(2026, 7, 1), None),
        ("P1", "override", D("9.288000"), date(2026, 7, 1), date(2026, 9, 1)),
        ("P2", "list_index", D("123.840000"), date(2026, 7, 1), None),
    ]
    adjusted = bil.replace(position_prices=change.tables["position_prices"][1])
    run_months(tmp_path, cat, adjusted, range(1, 13))
    assert fee_lines(tmp_path)["net_amount"].to_list() == (
        [D("10.00")] * 5 + [D("9.00")] + [D("9.29")] * 2 + [D("10.32")] * 4
    )
    assert fee_lines(tmp_path, "P2").select("service_from", "service_to", "days_charged", "days_basis", "net_amount").rows() == [
        (date(2026, 1, 1), date(2026, 6, 30), 181, 365, D("59.51")),
        (date(2026, 7, 1), date(2026, 12, 31), 184, 365, D("62.43")),
    ]
    prices = {day: catalog_on(cat, adjusted, day)["positions"]["price"].to_list() for day in (date(2026, 6, 30), date(2026, 9, 1))}
    assert prices == {date(2026, 6, 30): [D("9.000000"), D("120.000000")], date(2026, 9, 1): [D("10.320000"), D("123.840000")]}


def october_calls(*days: int) -> list[dict]:
    """Rated one-minute CALLs of C1 at 09:00 UTC on these October days, 0.06 each."""
    return [{"record_key": f"call-{d}", "contract_id": "C1", "start_time": datetime(2026, 10, d, 9, tzinfo=timezone.utc),
             "quantity": 60, "amount": D("0.06")} for d in days]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "prices", "expected"),
    [
        (None, None, [("0.02", None)], [("2026-10-03", "2026-10-24", "fixed: price", "0.20")]),
        # from 15 October: the calls before it keep their rated amounts
        ("2026-10-15", None, [("0.02", None)], [("2026-10-03", "2026-10-07", "rated", "0.30"), ("2026-10-20", "2026-10-24", "fixed: price", "0.10")]),
        # until 10 October: the calls after it keep theirs
        (None, "2026-10-10", [("0.02", None)], [("2026-10-03", "2026-10-07", "fixed: price", "0.10"), ("2026-10-20", "2026-10-24", "rated", "0.30")]),
        # a new price (an index) from 15 October: each day at the price of its day
        (None, None, [("0.02", None), ("0.04", "2026-10-15")],
         [("2026-10-03", "2026-10-07", "fixed: price", "0.10"), ("2026-10-20", "2026-10-24", "fixed: index", "0.20")]),
    ],
    ids=["whole-month", "starts-mid-month", "ends-mid-month", "new-price-mid-month"],
)
def test_fixed_price_usage_counts_the_positions_own_days_and_prices(tmp_path, start, end, prices, expected) -> None:
    versions = {"position_id": ["P1"] * len(prices), "kind": ["price", "index"][: len(prices)], "price": [p for p, _ in prices],
                "valid_from": [v for _, v in prices], "valid_until": [None] * len(prices), "reason": [None] * len(prices)}  # fmt: skip
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "CALL", "variable_fixed", None, start, end)]),
                                   "position_prices": versions})  # fmt: skip
    f.store_rated(tmp_path, f.rated(october_calls(3, 4, 5, 6, 7, 20, 21, 22, 23, 24)))
    f.bill(tmp_path, cat, bil, period="2026-10")
    usage = f.stored(tmp_path, "invoice_items").filter(pl.col("line_kind") == "usage").sort("service_from")
    assert usage.select(pl.col("service_from", "service_to").cast(pl.String), "price_source", pl.col("net_amount").cast(pl.String)).rows() == expected


#: Module M1 of C1 under T1 (FEE 10.00), moving to T2 (FEE 20.00) on 1 September.
TO_T2 = {"modules": {"module_id": ["M1"], "contract_id": ["C1"], "name": ["Phone"], "ordered_on": ["2026-01-01"]},
         "module_tariffs": {"module_id": ["M1", "M1"], "tariff_id": ["T1", "T2"], "valid_from": ["2026-01-01", "2026-09-01"],
                            "valid_until": ["2026-09-01", None]}}  # fmt: skip


@pytest.mark.parametrize(
    ("billing", "prices", "valid_until", "nets"),
    [
        # the tariff change brings T2's list price, not T1's indexed one
        (TO_T2, None, date(2026, 9, 1), ["10.32", "10.32", "20.00", "20.00"]),
        # T1's list price rises to 12.00 on 1 October: the index raised the old one only
        ({}, [("T1", "FEE", "10.00", None, "2026-10-01"), ("T1", "FEE", "12.00", "2026-10-01", None)], date(2026, 10, 1),
         ["10.32", "10.32", "10.32", "12.00"]),
    ],
    ids=["tariff-change", "new-list-price"],
)
def test_an_index_of_a_list_price_ends_where_that_list_price_ends(tmp_path, billing, prices, valid_until, nets) -> None:
    module = "M1" if billing else None
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-07-01", None, None, None, module)]),
                                   **billing}, **({"prices": f.prices_with(prices)} if prices else {}))  # fmt: skip
    change = index_adjusted(cat, bil, "1.032", date(2026, 7, 1), MANAGER)
    assert change.result.select("kind", "price", "valid_until").rows() == [("list_index", D("10.320000"), valid_until)]
    run_months(tmp_path, cat, bil.replace(position_prices=change.tables["position_prices"][1]), range(7, 11))
    assert fee_lines(tmp_path)["net_amount"].to_list() == [D(n) for n in nets]


@pytest.mark.parametrize(
    ("overrides", "fee_rate", "call_rate"),
    [
        ({}, "0.2000", "0.2000"),  # the tariff's 20 %
        ({"article_id": ["CALL"], "tariff_id": ["T1"], "vat_rate": ["0.1000"]}, "0.2000", "0.1000"),  # for the tariff
        ({"article_id": ["FEE"], "tariff_id": [None], "vat_rate": ["0.0700"]}, "0.0700", "0.2000"),  # for every tariff
        ({"article_id": ["FEE", "FEE"], "tariff_id": ["T1", None], "vat_rate": ["0.0500", "0.0700"]}, "0.0500", "0.2000"),  # the tariff's first
    ],
    ids=["none", "call-in-T1", "fee-everywhere", "tariff-beats-every-tariff"],
)
def test_the_billing_run_taxes_lines_by_the_vat_overrides_like_rating(tmp_path, overrides, fee_rate, call_rate) -> None:
    """docs/pricing.md VAT: the article's override for the tariff, else for every tariff, else the article's, else the tariff's."""
    rows = len(overrides.get("article_id", []))
    pricing = {"vat_overrides": {**overrides, "valid_from": [None] * rows, "valid_until": [None] * rows}} if rows else {}
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])}, pricing=pricing)
    f.store_rated(tmp_path, f.rated([
        {"record_key": "r1", "contract_id": "C1", "start_time": datetime(2026, 10, 5, 9, tzinfo=timezone.utc), "quantity": 60, "amount": D("3.00")}
    ]))  # fmt: skip
    f.bill(tmp_path, cat, bil, period="2026-10")
    rates = f.stored(tmp_path, "invoice_items").filter(pl.col("period") == "2026-10").select("article_id", "vat_rate").unique().sort("article_id")
    assert rates.rows() == [("CALL", D(call_rate)), ("FEE", D(fee_rate))]


@pytest.mark.parametrize(
    ("override_from", "start", "period", "call_rate"),
    [
        ("2026-10-15", datetime(2026, 10, 20, 9, tzinfo=timezone.utc), "2026-10", "0.2000"),  # not valid on the period's first day
        ("2026-10-15", datetime(2026, 11, 2, 9, tzinfo=timezone.utc), "2026-11", "0.1000"),  # valid on November's first day
        ("2026-10-01", datetime(2026, 9, 30, 22, 30, tzinfo=timezone.utc), "2026-09", "0.2000"),  # 1 Oct 00:30 in Vienna, September's
    ],
)
def test_a_usage_line_is_taxed_as_on_its_periods_first_day_like_rating(tmp_path, override_from, start, period, call_rate) -> None:
    """docs/pricing.md VAT: the rate valid on the period's first day, in rating and in billing alike
    (an override for CALL in T1; C1 is in Europe/Vienna)."""
    pricing = {"vat_overrides": {"article_id": ["CALL"], "tariff_id": ["T1"], "vat_rate": ["0.1000"],
                                 "valid_from": [override_from], "valid_until": [None]}}  # fmt: skip
    cat, bil = f.catalogs(pricing=pricing)
    f.store_rated(tmp_path, f.rated([{"record_key": "r1", "contract_id": "C1", "start_time": start, "quantity": 60, "amount": D("3.00")}]))
    f.bill(tmp_path, cat, bil, period="2026-11")
    usage = f.stored(tmp_path, "invoice_items").filter(pl.col("line_kind") == "usage")
    assert usage.select("period", "article_id", "vat_rate").rows() == [(period, "CALL", D(call_rate))]


@pytest.mark.parametrize(
    ("contract", "expected_vat"),
    [
        ("C1", [("normal", D("0.1000"), D("3.00"), D("0.30"), None), ("normal", D("0.2000"), D("10.05"), D("2.01"), None)]),
        ("C2", [("reverse_charge", D("0.0000"), D("13.05"), D("0.00"), "Reverse charge: VAT is owed by the recipient of the service.")]),
        ("C3", [("exempt", D("0.0000"), D("13.05"), D("0.00"), "Not taxable: no VAT charged.")]),
    ],
)
def test_vat_totals_per_rate_with_reverse_charge_and_exemption(tmp_path, contract, expected_vat) -> None:
    """FEE 10.00 and 0.05 of calls at the tariff's 20 %, a BOOK at its own 10 %; VAT rounded once per rate."""
    cat, bil = f.catalogs(billing={"positions": f.positions([
        ("P1", contract, "FEE", "recurring", "monthly", None, None),
        ("P2", contract, "BOOK", "one_time", None, None, None),
    ])})
    f.store_rated(tmp_path, f.rated([
        {"record_key": f"r{i}", "contract_id": contract, "start_time": datetime(2026, 1, 5, tzinfo=timezone.utc),
         "quantity": 60, "amount": D("0.025000")} for i in (1, 2)
    ]))
    f.bill(tmp_path, cat, bil, period="2026-01")
    vat = f.stored(tmp_path, "invoice_vat").sort("vat_rate").select("vat_code", "vat_rate", "net_amount", "vat_amount", "note")
    assert vat.rows() == expected_vat
    invoice = f.stored(tmp_path, "invoices").select("net_total", "vat_total", "gross_total").row(0)
    assert invoice == (D("13.05"), sum(r[3] for r in expected_vat), D("13.05") + sum(r[3] for r in expected_vat))


def test_header_address_terms_recipients(tmp_path) -> None:
    """The address valid on the invoice date (a change affects only later documents), the
    contract's payment terms over the general ones, PO number and recipients."""
    cat, bil = f.catalogs(billing={
        "positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None),
                                  ("P2", "C2", "FEE", "recurring", "monthly", None, None)]),
        "addresses": {"contract_id": ["C1", "C1"], "valid_from": ["2025-01-01", "2026-02-15"], "name": ["Alpen Buchhaltung", "Alpen Finance"],
                      "street": ["Platz 1", "Gasse 2"], "postal_code": ["8010", "8020"], "city": ["Graz", "Graz"], "country": ["AT", "AT"]},
        "contract_terms": {"contract_id": ["C1"], "payment_days": ["30"], "payment_terms": ["30 days net"], "po_number": ["PO-7"]},
        "recipients": {"contract_id": ["C1", "C1"], "email": ["b@alpen.example", "a@alpen.example"],
                       "delivery": ["download_link", "email_attachment"]},
    })
    run_months(tmp_path, cat, bil, range(1, 4))
    headers = f.stored(tmp_path, "invoices").select(
        "invoice_id", "contract_id", "invoice_date", "due_date", "bill_to_name", "bill_to_street", "po_number",
        "payment_terms", "recipients", "customer_number",
    )
    both = "a@alpen.example (email_attachment); b@alpen.example (download_link)"
    general = "Payable within 14 days of the invoice date without deduction."
    assert headers.rows() == [
        ("INV-000001", "C1", date(2026, 1, 31), date(2026, 3, 2), "Alpen Buchhaltung", "Platz 1", "PO-7", "30 days net", both, "100"),
        ("INV-000002", "C2", date(2026, 1, 31), date(2026, 2, 14), "Berlin AG", None, None, general, None, "200"),
        ("INV-000003", "C1", date(2026, 2, 28), date(2026, 3, 30), "Alpen Finance", "Gasse 2", "PO-7", "30 days net", both, "100"),
        ("INV-000004", "C2", date(2026, 2, 28), date(2026, 3, 14), "Berlin AG", None, None, general, None, "200"),
        ("INV-000005", "C1", date(2026, 3, 31), date(2026, 4, 30), "Alpen Finance", "Gasse 2", "PO-7", "30 days net", both, "100"),
        ("INV-000006", "C2", date(2026, 3, 31), date(2026, 4, 14), "Berlin AG", None, None, general, None, "200"),
    ]


def test_numbers_are_gap_free_per_sequence(tmp_path) -> None:
    cat, bil = f.catalogs(billing={
        "positions": f.positions([(f"P{c}", c, "FEE", "recurring", "monthly", None, None) for c in ("C1", "C2", "C3", "CT")]),
        "contract_terms": {"contract_id": ["C3"], "sequence_id": ["GOV"]},
        "billing_settings": {"sequence_id": ["RE"], "test_sequence_id": ["T"], "number_width": ["4"], "payment_days": ["10"],
                             "payment_terms": ["10 days"]},
    })
    run_months(tmp_path, cat, bil, range(1, 3))
    real = f.stored(tmp_path, "invoices").select("invoice_id", "contract_id", "sequence_no").sort("invoice_id").rows()
    assert real == [("GOV-0001", "C3", 1), ("GOV-0002", "C3", 2), ("RE-0001", "C1", 1), ("RE-0002", "C2", 2),
                    ("RE-0003", "C1", 3), ("RE-0004", "C2", 4)]
    assert f.stored(tmp_path, "invoices", test=True)["invoice_id"].to_list() == ["T-0001", "T-0002"]


def test_a_late_record_lands_on_the_next_invoice_with_its_own_dates(tmp_path) -> None:
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])})
    october = datetime(2026, 10, 20, 8, tzinfo=timezone.utc)
    f.store_rated(tmp_path, f.rated([{"record_key": "on-time", "contract_id": "C1", "start_time": october, "quantity": 60, "amount": D("0.060000")}]))
    f.bill(tmp_path, cat, bil, period="2026-10")
    f.store_rated(tmp_path, f.rated([{"record_key": "late", "contract_id": "C1", "start_time": october, "quantity": 120, "amount": D("0.120000"),
                                      "run_id": "rate-2"}]), run_id="rate-2")
    f.bill(tmp_path, cat, bil, period="2026-11")
    usage = f.stored(tmp_path, "invoice_items").filter(pl.col("line_kind") == "usage").select(
        "invoice_id", "period", "service_from", "quantity", "net_amount"
    )
    assert usage.rows() == [
        ("INV-000001", "2026-10", date(2026, 10, 20), 60, D("0.06")),
        ("INV-000002", "2026-10", date(2026, 10, 20), 120, D("0.12")),
    ]
    billed = f.stored(tmp_path, "billed_usage").select("invoice_id", "record_key", "rated_run_id").sort("invoice_id")
    assert billed.rows() == [("INV-000001", "on-time", "rate-1"), ("INV-000002", "late", "rate-2")]


def test_usage_after_the_period_waits_and_the_contract_time_zone_decides(tmp_path) -> None:
    """C1 is in Europe/Vienna: 31 Oct 23:30 UTC is already 1 November there."""
    cat, bil = f.catalogs()
    f.store_rated(tmp_path, f.rated([
        {"record_key": "oct", "contract_id": "C1", "start_time": datetime(2026, 10, 31, 22, 30, tzinfo=timezone.utc), "quantity": 60, "amount": D("0.06")},
        {"record_key": "nov", "contract_id": "C1", "start_time": datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc), "quantity": 60, "amount": D("0.06")},
    ]))
    f.bill(tmp_path, cat, bil, period="2026-10")
    f.bill(tmp_path, cat, bil, period="2026-11")
    billed = f.stored(tmp_path, "billed_usage").join(f.stored(tmp_path, "invoices").select("invoice_id", "period"), on="invoice_id")
    assert billed.select("record_key", "period").sort("record_key").rows() == [("nov", "2026-11"), ("oct", "2026-10")]


def test_test_accounts_are_kept_out_of_real_invoices(tmp_path) -> None:
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None),
                                                             ("PT", "CT", "FEE", "recurring", "monthly", None, None)])})
    f.store_rated(tmp_path, f.rated([{"record_key": "t1", "contract_id": "CT", "start_time": datetime(2026, 1, 3, tzinfo=timezone.utc),
                                      "quantity": 60, "amount": D("0.06"), "customer_id": "KT"}]))
    f.bill(tmp_path, cat, bil, period="2026-01")
    real = {t: f.stored(tmp_path, t) for t in ("invoices", "invoice_items", "invoice_vat", "billing_history", "billed_usage")}
    test = {t: f.stored(tmp_path, t, test=True) for t in real}
    assert {t: sorted(set(fr["contract_id"])) if "contract_id" in fr.columns else fr.height for t, fr in real.items()} == {
        "invoices": ["C1"], "invoice_items": ["C1"], "invoice_vat": 1, "billing_history": ["C1"], "billed_usage": [],
    }
    assert test["invoices"].select("invoice_id", "contract_id", "net_total").rows() == [("TEST-000001", "CT", D("10.06"))]
    assert test["billed_usage"]["record_key"].to_list() == ["t1"]
    assert f.stored(tmp_path, "billing_runs").select("invoices", "test_invoices", "net_total").row(0) == (1, 1, D("10.00"))


def test_single_invoice_then_regular_run_bills_nothing_twice(tmp_path) -> None:
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", "2026-10-01", None),
                                                             ("P2", "C1", "TRANSFER", "every_time", None, None, None),
                                                             ("P3", "C2", "FEE", "recurring", "monthly", "2026-10-01", None)])})
    f.store_rated(tmp_path, f.rated([
        {"record_key": f"d{d}", "contract_id": "C1", "start_time": datetime(2026, 10, d, 9, tzinfo=timezone.utc), "quantity": 60, "amount": D("0.06")}
        for d in (5, 15, 25)
    ]))
    single = f.bill(tmp_path, cat, bil, contract="C1", until=date(2026, 10, 15))
    regular = f.bill(tmp_path, cat, bil, period="2026-10")
    items = f.stored(tmp_path, "invoice_items").join(f.stored(tmp_path, "invoices").select("invoice_id", "run_id", "kind"), on="invoice_id")
    got = items.select("run_id", "kind", "contract_id", "line_kind", "service_from", "service_to", "quantity", "net_amount")
    assert got.sort("run_id", "contract_id", "line_kind").rows() == [
        (regular, "period", "C1", "every_time", date(2026, 10, 31), date(2026, 10, 31), 1, D("1.50")),
        (regular, "period", "C1", "usage", date(2026, 10, 25), date(2026, 10, 25), 60, D("0.06")),
        (regular, "period", "C2", "recurring", date(2026, 10, 1), date(2026, 10, 31), 1, D("10.00")),
        (single, "single", "C1", "every_time", date(2026, 10, 15), date(2026, 10, 15), 1, D("1.50")),
        (single, "single", "C1", "recurring", date(2026, 10, 1), date(2026, 10, 31), 1, D("10.00")),
        (single, "single", "C1", "usage", date(2026, 10, 5), date(2026, 10, 15), 120, D("0.12")),
    ]
    assert single == "single-C1-2026-10-15"
    assert f.stored(tmp_path, "invoices").select("invoice_id", "kind", "billed_until").sort("invoice_id").rows() == [
        ("INV-000001", "single", date(2026, 10, 15)),
        ("INV-000002", "period", date(2026, 10, 31)),
        ("INV-000003", "period", date(2026, 10, 31)),
    ]


def test_a_fee_without_price_is_reported_and_billed_once_priced(tmp_path) -> None:
    core = {**f.CORE["prices"]}
    core = {k: v[1:] for k, v in core.items()}  # FEE has no list price in T1
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])}, prices=core)
    f.bill(tmp_path, cat, bil, period="2026-01")
    problems = f.stored(tmp_path, "billing_problems")
    assert problems.select("contract_id", "position_id", "rule").rows() == [("C1", "P1", "price required")]
    assert "add a list price to prices.csv" in problems["reason"][0]
    assert f.stored(tmp_path, "invoices").height == 0
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])})
    f.bill(tmp_path, cat, bil, period="2026-02")
    assert fee_lines(tmp_path).select("run_period", "service_from").rows() == [("2026-02", date(2026, 1, 1)), ("2026-02", date(2026, 2, 1))]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "say what to bill"),
        ({"period": "2026-13"}, "is not a month"),
        ({"period": "0000-01"}, "is not a month"),  # a date has no year 0
        ({"contract": "C1"}, "needs --until"),
        ({"period": "2026-10", "until": date(2026, 10, 5)}, "--until goes with --contract"),
    ],
)
def test_billing_requests_that_cannot_be_made(kwargs, message) -> None:
    with pytest.raises(BillingError, match=message):
        billing_request(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "run_id", "until"),
    [
        ({"period": "2026-02"}, "period-2026-02", date(2026, 2, 28)),
        ({"period": "2026-12"}, "period-2026-12", date(2026, 12, 31)),
        ({"period": "9999-12"}, "period-9999-12", date(9999, 12, 31)),  # the last month a date holds
        ({"contract": "C1", "until": date(2026, 10, 15)}, "single-C1-2026-10-15", date(2026, 10, 15)),
        ({"contract": "C/1 x", "period": "2026-10"}, "single-4955f94b81e10884-2026-10-31", date(2026, 10, 31)),
    ],
)
def test_billing_requests(kwargs, run_id, until) -> None:
    request = billing_request(**kwargs)
    assert (request.run_id, request.until, request.invoice_date) == (run_id, until, until)


def test_an_unknown_contract_cannot_get_a_single_invoice(tmp_path) -> None:
    cat, bil = f.catalogs()
    with pytest.raises(BillingError, match="'C9' is not in the catalog"):
        f.bill(tmp_path, cat, bil, contract="C9", until=date(2026, 1, 31))


@pytest.mark.parametrize(
    ("billing", "problems"),
    [
        ({"contract_terms": {"contract_id": ["C1"], "entered_on": ["2028-03-01"]}},
         [("contract_terms.csv", 2, "contracts.start_date", "2026-01-01", "backdated more than two years before entered_on; enter a later date or correct entered_on")]),
        ({"contract_terms": {"contract_id": ["C1"], "entered_on": ["2026-01-01"], "billing_from": ["2023-12-31"]}},
         [("contract_terms.csv", 2, "billing_from", "2023-12-31", "backdated more than two years before entered_on; enter a later date or correct entered_on")]),
        ({"positions": f.positions([("P1", "C1", "FEE", "recurring", None, None, None)])},
         [("positions.csv", 2, "interval", None, "interval is required for billing type recurring")]),
        ({"positions": f.positions([("P1", "C9", "FEE", "one_time", None, None, None)])},
         [("positions.csv", 2, "contract_id", "C9", "must exist in contracts.contract_id")]),
        ({"pauses": {"contract_id": ["C1", "C1"], "paused_from": ["2026-01-01", "2026-01-10"], "paused_through": ["2026-01-10", "2026-01-20"]}},
         [("pauses.csv", 3, "paused_from", "2026-01-10", "overlaps an earlier row with the same contract_id")]),
        ({"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)]),
          "position_prices": {"position_id": ["P1"], "kind": ["override"], "price": ["1"], "valid_from": [None], "valid_until": [None]}},
         [("position_prices.csv", 2, "reason", None, "a price override needs a reason")]),
        ({"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None, "x")])},
         [("positions.csv", 2, "quantity", "x", "type Int64")]),
        # every problem at once: a bad cell in one row, a broken row rule and an unknown contract in others
        ({"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None, "x"),
                                    ("P2", "C1", "FEE", "recurring", None, None, None),
                                    ("P3", "C9", "FEE", "one_time", None, None, None)])},
         [("positions.csv", 2, "quantity", "x", "type Int64"),
          ("positions.csv", 3, "interval", None, "interval is required for billing type recurring"),
          ("positions.csv", 4, "contract_id", "C9", "must exist in contracts.contract_id")]),
    ],
    ids=["backdated-start", "backdated-billing-from", "interval-missing", "unknown-contract", "overlapping-pauses",
         "override-without-reason", "bad-quantity", "all-at-once"],
)
def test_the_billing_catalog_names_each_problem(billing, problems) -> None:
    with pytest.raises(CatalogError) as caught:
        f.catalogs(billing=billing)
    assert caught.value.errors.rows() == problems


BACKDATED = (
    "contract C1 has fees due from 2024-10-30, more than two years before 2026-10-31, and no invoice yet: its first "
    "invoice would bill them all. Set contract_terms.billing_from to the day this system takes over its billing, "
    "or entered_on to the day it was entered (then the catalog check applies)"
)


#: C1 (monthly FEE 10.00, no entered_on) starts on `start`; steps: ("period", P) or ("single", until);
#: expected: C1's FEE lines billed (service_from of the first, count) and the problems of the last run.
@pytest.mark.parametrize(
    ("start", "terms", "steps", "fees", "problems"),
    [
        ("2024-10-31", None, [("period", "2026-10")], (date(2024, 10, 31), 25), []),  # exactly two years: billed
        ("2024-10-30", None, [("period", "2026-10")], None, [("C1", None, "backdated more than two years", BACKDATED)]),
        ("2024-10-30", {"billing_from": ["2026-10-01"]}, [("period", "2026-10")], (date(2026, 10, 1), 1), []),
        # billed every month since it started: no longer a first invoice
        ("2024-09-01", None, [("period", "2026-08"), ("period", "2026-10")], (date(2024, 9, 1), 26), []),
        # an old contract whose first fee starts now: nothing would be backdated (diff review)
        ("2024-01-01", None, [("period", "2026-10")], (date(2026, 10, 1), 1), []),
        # ... beside an old fee cancelled before it started, which bills nothing (last review)
        ("2020-01-01", None, [("period", "2026-10")], (date(2026, 10, 1), 1), []),
    ],
    ids=["two-years", "one-day-more", "billing-from-set", "invoiced-before", "old-contract-new-fee", "old-fee-never-active"],
)
def test_a_contract_without_entered_on_counts_as_entered_by_its_first_invoice(tmp_path, start, terms, steps, fees, problems) -> None:
    position_start = "2026-10-01" if start < "2024-06-01" else None
    rows = [("P1", "C1", "FEE", "recurring", "monthly", position_start, None)]
    if start == "2020-01-01":
        rows.append(("P2", "C1", "SETUP", "one_time", None, "2020-06-01", "2020-05-31"))  # cancelled before it started
    billing = {"positions": f.positions(rows)}
    if terms:
        billing["contract_terms"] = {"contract_id": ["C1"], **terms}
    cat, bil = f.catalogs(billing=billing, contracts=f.contracts_starting(C1=start))
    for _, period in steps:
        run = f.bill(tmp_path, cat, bil, period=period)
    lines = f.stored(tmp_path, "invoice_items").filter(pl.col("contract_id") == "C1").sort("service_from")
    assert ((lines.get_column("service_from")[0], lines.height) if lines.height else None) == fees
    got = f.stored(tmp_path, "billing_problems", run_id=run).filter(pl.col("contract_id") == "C1")
    assert got.select("contract_id", "position_id", "rule", "reason").rows() == problems


def test_a_single_invoice_of_a_backdated_contract_is_refused(tmp_path) -> None:
    billing = {"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])}
    cat, bil = f.catalogs(billing=billing, contracts=f.contracts_starting(C1="2024-10-30"))
    with pytest.raises(BillingError, match="contract C1 has fees due from 2024-10-30, more than two years before 2026-10-31"):
        f.bill(tmp_path, cat, bil, contract="C1", until=date(2026, 10, 31))


def test_a_module_never_runs_under_a_tariff_of_another_currency() -> None:
    """One invoice per contract, in one currency: a module under a USD tariff of a EUR contract
    added 20 USD and 99 EUR into "119.00 EUR"."""
    tariffs = {**f.CORE["tariffs"], "currency": ["EUR", "USD"]}
    billing = {"modules": {"module_id": ["M1"], "contract_id": ["C1"], "name": ["Phone"], "ordered_on": ["2026-01-01"],
                           "cancelled_on": [None], "end_date": [None]},
               "module_tariffs": {"module_id": ["M1"], "tariff_id": ["T2"], "valid_from": ["2026-01-01"], "valid_until": [None]}}  # fmt: skip
    with pytest.raises(CatalogError) as caught:
        f.catalogs(billing=billing, tariffs=tariffs)
    assert caught.value.errors.rows() == [
        ("module_tariffs.csv", 2, "tariff_id", "T2",
         "the tariff's currency (USD) differs from its contract's tariff's (EUR): an invoice never mixes currencies"),
    ]


def test_billing_settings_must_be_one_row() -> None:
    two = {"sequence_id": ["A", "B"], "test_sequence_id": ["T", "T"], "payment_days": ["1", "1"], "payment_terms": ["x", "x"]}
    with pytest.raises(CatalogError) as caught:
        f.catalogs(billing={"billing_settings": two})
    assert caught.value.errors.rows() == [("billing_settings.csv", 2, "*", "2", "billing_settings must have exactly one row")]


def test_the_shipped_sample_catalog_is_valid() -> None:
    from pipeline.io.billing_files import load_catalogs

    _, bil = load_catalogs(Path(__file__).parents[2] / "data" / "sample" / "catalog")
    assert {name: t.height for name, t in bil.tables().items()} == {
        "billing_settings": 1, "contract_terms": 3, "tariff_terms": 2, "article_terms": 1, "modules": 5, "module_tariffs": 1,
        "positions": 6, "position_prices": 6, "pauses": 1, "addresses": 3, "recipients": 3, "users": 2,
    }


def test_a_record_stored_by_two_rating_runs_is_billed_once(tmp_path) -> None:
    cat, bil = f.catalogs()
    day = datetime(2026, 5, 5, tzinfo=timezone.utc)
    f.store_rated(tmp_path, f.rated([{"record_key": "k", "contract_id": "C1", "start_time": day, "quantity": 60, "amount": D("0.06")}]))
    f.store_rated(tmp_path, f.rated([{"record_key": "k", "contract_id": "C1", "start_time": day, "quantity": 60, "amount": D("0.06"),
                                      "run_id": "rate-2"}]), run_id="rate-2")
    f.bill(tmp_path, cat, bil, period="2026-05")
    f.bill(tmp_path, cat, bil, period="2026-06")
    assert f.stored(tmp_path, "billed_usage").select("record_key", "rated_run_id").rows() == [("k", "rate-1")]
    assert f.stored(tmp_path, "invoice_items").select("records", "net_amount").rows() == [(1, D("0.06"))]


@pytest.mark.parametrize(
    ("contract_tariff", "fee_tariff_currency", "error"),
    [
        ("T1", "EUR", None),  # usage rated under T1 (EUR), contract still on T1: one currency
        ("T3", "USD", "contract C1's invoice is in USD (its tariff's currency) but has lines in EUR"),
    ],
)
def test_an_invoice_never_mixes_currencies(tmp_path, contract_tariff, fee_tariff_currency, error) -> None:
    """Usage rated under a EUR tariff, the contract moved in contracts.csv to a USD tariff before
    billing: the run refuses to put EUR usage on a USD invoice (it summed them into one total)."""
    tariffs = {k: v + [x] for (k, v), x in zip(f.CORE["tariffs"].items(), ["T3", "Dollar", "USD", "60", "60", "0.2000", None])}
    contracts = {**f.CORE["contracts"], "tariff_id": [contract_tariff, "T1", "T1", "T1"]}
    prices = f.prices_with([("T3", "FEE", "10.00", None, None)])
    cat, bil = f.catalogs(billing={"positions": f.positions([("P1", "C1", "FEE", "recurring", "monthly", None, None)])},
                          tariffs=tariffs, contracts=contracts, prices=prices)
    f.store_rated(tmp_path, f.rated([{"record_key": "r1", "contract_id": "C1", "start_time": datetime(2026, 1, 20, tzinfo=timezone.utc),
                                      "quantity": 61, "amount": Decimal("0.061000")}]))
    if error:
        with pytest.raises(BillingError, match=re.escape(error)):
            f.bill(tmp_path, cat, bil, period="2026-01")
        return
    f.bill(tmp_path, cat, bil, period="2026-01")
    assert f.stored(tmp_path, "invoices").select("currency", "net_total").rows() == [(fee_tariff_currency, Decimal("10.06"))]
    assert set(f.stored(tmp_path, "invoice_items").get_column("currency")) == {fee_tariff_currency}
