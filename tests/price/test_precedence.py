"""The price precedence (docs/pricing.md), level by level: each level beats every level below it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.price.factory import CORE, K_MIN, calls, priced, rate_priced, rated

#: One price for A-NAT of contract K-MIN (customer C1, price list PL-KEY, tariff T-MIN) at each level.
LEVELS = {
    "special_friends": {
        "special_prices": {"contract_id": ["K-MIN"], "kind": ["friends"], "number": ["4312345678"], "price": ["0.0100"]}
    },
    "customer": {"customer_prices": {"customer_id": ["C1"], "article_id": ["A-NAT"], "price": ["0.0200"]}},
    "promotion": {
        "promotions": {
            "promotion_id": ["AUTUMN"], "tariff_id": ["T-MIN"], "article_id": ["A-NAT"], "price": ["0.0300"],
            "valid_from": ["2026-09-01 00:00:00"], "valid_until": ["2026-11-01 00:00:00"],
        }
    },
    "price_list": {"price_lists": {"price_list_id": ["PL-KEY"], "article_id": ["A-NAT"], "price": ["0.0400"]}},
}
ORDER = list(LEVELS)


@pytest.mark.parametrize(
    ("highest", "price", "ref"),
    [
        ("special_friends", "0.010000", "special_prices:K-MIN/4312345678"),
        ("customer", "0.020000", "customer_prices:C1"),
        ("promotion", "0.030000", "promotions:AUTUMN"),
        ("price_list", "0.040000", "price_lists:PL-KEY"),
        ("tariff", "0.060000", "prices:T-MIN"),
    ],
)
def test_each_level_beats_every_level_below_it(highest, price, ref):
    """The catalog has a price at `highest` and at every level below; the highest one prices the call."""
    below = ORDER[ORDER.index(highest):] if highest in ORDER else []
    tables = {name: table for level in below for name, table in LEVELS[level].items()}
    result = rate_priced(calls(K_MIN, ("2026-10-01 10:00:00", 60, "4312345678")), priced(**tables))
    assert rated(result, "price_source", "price", "price_ref", "amount").row(0) == (highest, Decimal(price), ref, Decimal(price))


@pytest.mark.parametrize(
    ("start", "source"),
    [("2026-08-31 23:59:59", "price_list"), ("2026-09-01 00:00:00", "promotion"), ("2026-10-31 23:59:59", "promotion"),
     ("2026-11-01 00:00:00", "price_list")],
)
def test_a_promotion_applies_only_between_its_instants(start, source):
    tables = {**LEVELS["promotion"], **LEVELS["price_list"]}
    result = rate_priced(calls(K_MIN, (start, 60)), priced(**tables))
    assert rated(result, "price_source").item() == source


def test_a_band_price_of_a_level_beats_its_price_for_every_band_but_not_a_higher_level():
    bands = {
        "time_bands": {"tariff_id": ["T-MIN"], "band": ["offpeak"], "days": ["mon-sun"], "from_time": ["00:00"], "until_time": ["24:00"]},
        "band_prices": {"tariff_id": ["T-MIN"], "article_id": ["A-NAT"], "band": ["offpeak"], "price": ["0.0500"]},
    }
    only_tariff = rate_priced(calls(K_MIN, ("2026-10-01 10:00:00", 60)), priced(**bands))
    assert rated(only_tariff, "band", "price_source", "price_ref", "amount").row(0) == (
        "offpeak", "tariff", "band_prices:T-MIN/offpeak", Decimal("0.050000"),
    )
    with_list = rate_priced(calls(K_MIN, ("2026-10-01 10:00:00", 60)), priced(**bands, **LEVELS["price_list"]))
    assert rated(with_list, "price_source", "amount").row(0) == ("price_list", Decimal("0.040000"))


WITHOUT_TARIFF_PRICE = {  # T-MIN has no price of levels 4-6 for A-NAT: no prices.csv row, list, promotion or tier
    "prices": {k: [v for v, a, t in zip(col, CORE["prices"]["article_id"], CORE["prices"]["tariff_id"]) if (t, a) != ("T-MIN", "A-NAT")]
               for k, col in CORE["prices"].items()}
}


@pytest.mark.parametrize(
    ("level", "counterparty", "outcome"),
    [
        ("special_friends", "4312345678", ("special_friends", Decimal("0.010000"))),
        ("special_friends", "4312999999", None),  # not the friend: the tariff has no price
        ("customer", "4312345678", ("customer", Decimal("0.020000"))),
    ],
)
def test_a_customer_or_special_price_prices_a_call_the_tariff_has_no_price_for(level, counterparty, outcome):
    result = rate_priced(calls(K_MIN, ("2026-10-01 10:00:00", 60, counterparty)), priced(core=WITHOUT_TARIFF_PRICE, **LEVELS[level]))
    if outcome is None:
        assert result.table("unrateable").pl().get_column("reason").to_list() == [
            "tariff T-MIN has no price for article A-NAT valid at 2026-10-01 10:00:00 UTC (prices.csv or the pricing tables)"
        ]
    else:
        assert rated(result, "price_source", "amount").row(0) == outcome
        assert result.counts()["unrateable"] == 0
