"""A tariff change (module_tariffs.csv) changes the tariff usage is rated with, from its effective day.

The core is tests/price/factory.py's: K-MIN runs under T-MIN (per minute, 60/60), K-SEC under
T-SEC (per second, 1/1). Here A-NAT costs 0.06 per minute in T-MIN and 0.12 per minute in
T-SEC, so a 90-second call costs 0.12 (2 minutes) under T-MIN and 0.18 (90 seconds) under T-SEC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from pipeline.assign import device_intervals
from pipeline.catalog import USAGE_TARIFFS
from pipeline.catalog.billing import usage_tariffs, validated_billing, with_usage_tariffs
from tests.price.factory import CORE, K_MIN, K_SEC, at, calls, priced, rate_priced, rated, raw_pricing

D = Decimal

PRICES = {
    "prices": {
        "tariff_id": ["T-MIN", "T-SEC"],
        "article_id": ["A-NAT", "A-NAT"],
        "price": ["0.0600", "0.1200"],
    },
}
#: K-MIN gets a second ID that leaves the contract before the change.
DEVICE_IDS = {
    "device_ids": {
        "contract_id": [*CORE["device_ids"]["contract_id"], "K-MIN"],
        "id_type": ["phone"] * 5,
        "id_value": [*CORE["device_ids"]["id_value"], "43316899"],
        "id_to": [*CORE["device_ids"]["id_to"], None],
        "valid_from": [None] * 5,
        "valid_until": [None] * 4 + ["2026-10-10"],
    },
}
#: K-MIN's telephone module moves from T-MIN to T-SEC on 15 October 2026 (as `rating change-tariff` stores it).
MODULES = {
    "modules": {"module_id": ["M-MIN"], "contract_id": ["K-MIN"], "name": ["Telephone"], "ordered_on": ["2025-01-01"]},
    "module_tariffs": {
        "module_id": ["M-MIN", "M-MIN"],
        "tariff_id": ["T-MIN", "T-SEC"],
        "valid_from": ["2025-01-01", "2026-10-15"],
        "valid_until": ["2026-10-15", None],
    },
}


def changed_catalog(modules: dict[str, dict[str, list]] = MODULES):
    """The priced core catalog carrying the usage-tariff timeline of `modules`."""
    cat = priced(core={**PRICES, **DEVICE_IDS})
    return with_usage_tariffs(cat, validated_billing(raw_pricing(**modules), cat))


def test_a_contract_changing_tariff_mid_month_is_rated_with_each_tariff_from_its_effective_day():
    records = pl.concat([
        calls(K_MIN, ("2026-10-14 23:59:59", 90), ("2026-10-15 00:00:00", 90), ("2026-10-31 12:00:00", 90)),
        calls("4331689912", ("2026-10-05 10:00:00", 90)),  # the ID that left before the change
        calls(K_SEC, ("2026-10-14 10:00:00", 90), ("2026-10-20 10:00:00", 90)),  # no module_tariffs: unchanged
    ]).with_columns(pl.int_range(1, 7).alias("source_line"), pl.format("r{}", pl.int_range(1, 7)).alias("record_key"))
    result = rate_priced(records, changed_catalog())
    columns = ("contract_id", "tariff_id", "start_time", "matched_id", "quantity", "price", "price_ref", "amount")
    assert rated(result, *columns).rows() == [
        ("K-MIN", "T-MIN", at("2026-10-14 23:59:59"), "43316812724", 120, D("0.060000"), "prices:T-MIN", D("0.120000")),
        ("K-MIN", "T-SEC", at("2026-10-15 00:00:00"), "43316812724", 90, D("0.120000"), "prices:T-SEC", D("0.180000")),
        ("K-MIN", "T-SEC", at("2026-10-31 12:00:00"), "43316812724", 90, D("0.120000"), "prices:T-SEC", D("0.180000")),
        ("K-MIN", "T-MIN", at("2026-10-05 10:00:00"), "43316899", 120, D("0.060000"), "prices:T-MIN", D("0.120000")),
        ("K-SEC", "T-SEC", at("2026-10-14 10:00:00"), "4930123400-4930123499", 90, D("0.120000"), "prices:T-SEC", D("0.180000")),
        ("K-SEC", "T-SEC", at("2026-10-20 10:00:00"), "4930123400-4930123499", 90, D("0.120000"), "prices:T-SEC", D("0.180000")),
    ]
    lines = result.table("invoice_lines").pl().sort("contract_id", "tariff_id")
    assert lines.select("contract_id", "tariff_id", "article_id", "records", "quantity", "net_amount").rows() == [
        ("K-MIN", "T-MIN", "A-NAT", 2, 240, D("0.24")),
        ("K-MIN", "T-SEC", "A-NAT", 2, 180, D("0.36")),
        ("K-SEC", "T-SEC", "A-NAT", 2, 180, D("0.36")),
    ]


def test_without_module_tariffs_every_record_keeps_the_contracts_tariff():
    records = calls(K_MIN, ("2026-10-14 23:59:59", 90), ("2026-10-15 00:00:00", 90))
    result = rate_priced(records, priced(core={**PRICES, **DEVICE_IDS}))
    assert rated(result, "price_ref", "amount").rows() == [("prices:T-MIN", D("0.120000")), ("prices:T-MIN", D("0.120000"))]


def utc(text: str | None) -> dt.datetime | None:
    return None if text is None else at(text)


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "slices"),
    [
        # open ID: cut at the change
        (None, None, [(None, "2026-10-15 00:00:00", None), ("2026-10-15 00:00:00", None, "T-SEC")]),
        # ID valid across the change, ending later
        ("2026-10-01 08:00:00", "2026-10-20 00:00:00",
         [("2026-10-01 08:00:00", "2026-10-15 00:00:00", None), ("2026-10-15 00:00:00", "2026-10-20 00:00:00", "T-SEC")]),
        # ID ending before the change: one slice, the contract's tariff
        (None, "2026-10-10 00:00:00", [(None, "2026-10-10 00:00:00", None)]),
        # ID ending exactly at the change (valid_until exclusive): not cut
        (None, "2026-10-15 00:00:00", [(None, "2026-10-15 00:00:00", None)]),
        # ID starting after the change: one slice, the new tariff
        ("2026-11-01 00:00:00", None, [("2026-11-01 00:00:00", None, "T-SEC")]),
    ],
)
def test_device_ids_are_sliced_at_the_usage_tariff_changes_inside_their_validity(valid_from, valid_until, slices):
    ids = pl.DataFrame(
        {"contract_id": ["K-MIN", "K-SEC"], "id_type": ["phone", "phone"], "id_value": ["4331", "4930"], "id_to": [None, None],
         "valid_from": [utc(valid_from), utc(valid_from)], "valid_until": [utc(valid_until), utc(valid_until)]},
        schema={"contract_id": pl.String, "id_type": pl.String, "id_value": pl.String, "id_to": pl.String,
                "valid_from": pl.Datetime("us", "UTC"), "valid_until": pl.Datetime("us", "UTC")},
    )
    timeline = pl.DataFrame(
        {"contract_id": ["K-MIN"], "module_id": ["M-MIN"], "tariff_id": ["T-SEC"], "valid_from": [dt.date(2026, 10, 15)],
         "valid_until": [None]},
        schema=USAGE_TARIFFS,
    )
    got = device_intervals(ids, timeline)
    expected = [(i, "K-MIN", utc(f), utc(u), t) for i, (f, u, t) in enumerate(slices)]
    expected.append((len(slices), "K-SEC", utc(valid_from), utc(valid_until), None))  # no timeline: never cut
    assert got.select("dev_no", "contract_id", "valid_from", "valid_until", "tariff_id").rows() == expected


@pytest.mark.parametrize(
    ("modules", "module_tariffs", "expected"),
    [
        # the module holding the contract's tariff is the usage module; only its other tariffs count
        ([("M1", "2025-01-01")], [("M1", "T-MIN", "2025-01-01", "2026-10-15"), ("M1", "T-SEC", "2026-10-15", None)],
         [("M1", "T-SEC", "2026-10-15", None)]),
        # a module that never ran the contract's tariff does not change the usage tariff
        ([("M1", "2025-01-01")], [("M1", "T-SEC", "2025-01-01", None)], []),
        # two modules held the contract's tariff: the earlier ordered one decides
        ([("M1", "2025-06-01"), ("M2", "2025-01-01")],
         [("M1", "T-MIN", "2025-06-01", "2026-03-01"), ("M1", "T-SEC", "2026-03-01", None),
          ("M2", "T-MIN", "2025-01-01", "2026-10-15"), ("M2", "T-SEC", "2026-10-15", None)],
         [("M2", "T-SEC", "2026-10-15", None)]),
        # back to the contract's tariff later: only the span under the other tariff remains
        ([("M1", "2025-01-01")],
         [("M1", "T-MIN", "2025-01-01", "2026-10-15"), ("M1", "T-SEC", "2026-10-15", "2026-12-01"),
          ("M1", "T-MIN", "2026-12-01", None)],
         [("M1", "T-SEC", "2026-10-15", "2026-12-01")]),
    ],
)
def test_the_usage_module_of_a_contract_decides_its_usage_tariff(modules, module_tariffs, expected):
    day = lambda text: None if text is None else dt.date.fromisoformat(text)  # noqa: E731
    mods = pl.DataFrame({"module_id": [m for m, _ in modules], "contract_id": ["K-MIN"] * len(modules),
                         "ordered_on": [day(o) for _, o in modules]})
    versions = pl.DataFrame(
        {"module_id": [v[0] for v in module_tariffs], "tariff_id": [v[1] for v in module_tariffs],
         "valid_from": [day(v[2]) for v in module_tariffs], "valid_until": [day(v[3]) for v in module_tariffs]},
        schema={"module_id": pl.String, "tariff_id": pl.String, "valid_from": pl.Date, "valid_until": pl.Date},
    )
    contracts = pl.DataFrame({"contract_id": ["K-MIN", "K-SEC"], "tariff_id": ["T-MIN", "T-SEC"]})
    got = usage_tariffs(contracts, mods, versions)
    assert got.select("module_id", "tariff_id", "valid_from", "valid_until").rows() == [
        (m, t, day(f), day(u)) for m, t, f, u in expected
    ]
    assert set(got["contract_id"]) <= {"K-MIN"}


def test_after_a_tariff_change_the_customers_own_price_holds_in_the_new_tariffs_bands():
    # K-MIN's customer C1 has one price of A-NAT for every band; only T-SEC, the tariff after the change, has bands
    bands = {"time_bands": {"tariff_id": ["T-SEC"], "band": ["allday"], "days": ["mon-sun"], "from_time": ["00:00"], "until_time": ["24:00"]}}
    cust = {"customer_prices": {"customer_id": ["C1"], "article_id": ["A-NAT"], "price": ["0.0100"]}}
    cat = priced(core={**PRICES, **DEVICE_IDS}, **bands, **cust)
    cat = with_usage_tariffs(cat, validated_billing(raw_pricing(**MODULES), cat))
    result = rate_priced(calls(K_MIN, ("2026-10-14 10:00:00", 60), ("2026-10-20 10:00:00", 60)), cat)
    assert rated(result, "tariff_id", "band", "price_source", "price_ref", "amount").rows() == [
        ("T-MIN", None, "customer", "customer_prices:C1", D("0.010000")),
        ("T-SEC", "allday", "customer", "customer_prices:C1", D("0.010000")),
    ]


def test_an_unrateable_records_reason_names_the_tariff_it_was_rated_with():
    # after the change K-MIN runs under T-SEC, which has no price for A-MOB (T-MIN has one)
    prices = {"prices": {"tariff_id": ["T-MIN", "T-MIN", "T-SEC"], "article_id": ["A-NAT", "A-MOB", "A-NAT"], "price": ["0.06"] * 3}}
    cat = priced(core={**prices, **DEVICE_IDS})
    cat = with_usage_tariffs(cat, validated_billing(raw_pricing(**MODULES), cat))
    result = rate_priced(calls(K_MIN, ("2026-10-20 10:00:00", 60, "4366123456")), cat)
    assert result.table("unrateable").pl().get_column("reason").to_list() == [
        "tariff T-SEC has no price for article A-MOB valid at 2026-10-20 10:00:00 UTC (prices.csv or the pricing tables)"
    ]
