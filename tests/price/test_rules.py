"""Each pricing rule of DOMAIN §4 on literal tables (tests/price/factory.py has the core catalog)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.io.readers import Source, read_usage_file
from tests.price.factory import ARTICLES, CORE, K_EX, K_MIN, K_RC, K_SEC, LOCAL_KEYS, at, calls, priced, rate_priced, rated, usage

D = Decimal


def lines(result, *columns):
    return result.table("invoice_lines").pl().sort("contract_id", "article_id").select(columns).rows()


# --- article keys, alternative names, zones ---------------------------------------------------


def test_article_key_and_zone_choose_the_article_and_invoices_show_its_alternative_name():
    records = usage(
        subscriber_id=[K_SEC] * 4,
        article_key=["voice", "voice", "sms", "data"],
        counterparty=["4312345678", "4366123456", "4366123456", None],
        duration_s=[60, 60, 0, None],  # an SMS says it lasted 0 s
        volume_bytes=[None, None, None, 500_000_000],
    )
    result = rate_priced(records, priced())
    assert lines(result, "article_id", "article_name", "quantity", "net_amount") == [
        ("A-GB", "Data", 500_000_000, D("0.03")),
        ("A-MOB", "Calls mobile", 60, D("0.06")),
        ("A-NAT", "Inlandsgespräche", 60, D("0.06")),
        ("A-SMS", "SMS", 1, D("0.00")),
    ]


@pytest.mark.parametrize(
    ("counterparty", "catchall", "zone", "article"),
    [
        ("4366123456", None, "MOB", "A-MOB"),  # 4366 is longer than 43
        ("4312345678", None, "NAT", "A-NAT"),
        ("4930999", None, "NAT", "A-NAT"),
        ("33123456", "NAT", "NAT", "A-NAT"),  # no prefix: the tariff's catch-all zone
    ],
)
def test_longest_prefix_zone_else_catch_all(counterparty, catchall, zone, article):
    tariffs = {
        "tariff_id": ["T-MIN", "T-SEC"], "name": ["per minute", "per second"], "first_increment_s": ["60", "1"],
        "next_increment_s": ["60", "1"], "vat_rate": ["0.2000", "0.1900"], "catchall_zone": [None, catchall],
    }
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60, counterparty)), priced(core={"tariffs": tariffs}))
    assert rated(result, "zone_id", "article_id", "amount").row(0) == (zone, article, D("0.060000"))


def test_a_record_without_a_called_number_takes_its_keys_row_for_every_zone_not_the_catch_all_zone():
    # T-SEC has the catch-all zone NAT, and the key data has a row for NAT (A-GIB) beside its row for every zone (A-GB)
    tariffs = {
        "tariff_id": ["T-MIN", "T-SEC"], "name": ["per minute", "per second"], "first_increment_s": ["60", "1"],
        "next_increment_s": ["60", "1"], "vat_rate": ["0.2000", "0.1900"], "catchall_zone": [None, "NAT"],
    }
    keys = {k: [*v, new] for (k, v), new in zip(CORE["article_keys"].items(), ("data", "NAT", "A-GIB"))}
    records = usage(
        subscriber_id=[K_SEC, K_MIN], article_key=["data", "data"], counterparty=[None, None], duration_s=[None, None],
        volume_bytes=[1_000_000_000, 1_000_000_000],
    )
    result = rate_priced(records, priced(core={"tariffs": tariffs, "article_keys": keys}))
    assert rated(result, "contract_id", "zone_id", "article_id", "amount").sort("contract_id").rows() == [
        ("K-MIN", None, "A-GB", D("0.060000")),
        ("K-SEC", None, "A-GB", D("0.060000")),
    ]


def test_a_number_in_no_zone_is_unrateable_even_where_the_key_has_a_row_for_every_zone():
    # article_keys' empty zone is "every zone not listed": a number outside every zone (no catch-all) is in none
    keys = {k: [*v, new] for (k, v), new in zip(CORE["article_keys"].items(), ("voice", None, "A-NAT"))}
    cat = priced(core={"article_keys": keys})
    # differential audit: a number left national (0316…, the source has no country) was taken for no called
    # number and priced by that row; it is a number in no zone too
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60, "33123456"), ("2026-10-01 11:00:00", 60, "4312345678"),
                               ("2026-10-01 12:00:00", 60, "0316123456")), cat)
    assert rated(result, "zone_id", "article_id").rows() == [("NAT", "A-NAT")]
    assert sorted(result.table("unrateable").pl().get_column("reason").to_list()) == [
        "called number 0316123456 is not in international form (E.164 digits), so no destination zone matches it, "
        "and tariff T-SEC has no catch-all zone",
        "no destination zone matches 33123456 and tariff T-SEC has no catch-all zone",
    ]


@pytest.mark.parametrize(
    ("record", "prices_without", "reason"),
    [
        ({"counterparty": ["33123456"]}, None,
         "no destination zone matches 33123456 and tariff T-SEC has no catch-all zone"),
        ({"article_key": ["fax"]}, None, "article key fax has no article for zone NAT (article_keys.csv)"),
        # a called number left national (its source has no country): no zone can match it
        ({"counterparty": ["0316123456"]}, None,
         "called number 0316123456 is not in international form (E.164 digits), so no destination zone matches it, "
         "and tariff T-SEC has no catch-all zone"),
        # a counterparty that is no number at all (a flow's peer address) is not a called number in national form:
        # the article key is what is missing
        ({"article_key": ["dta"], "counterparty": ["8.8.8.8"], "duration_s": [None], "volume_bytes": [10**6]}, None,
         "article key dta has no article for zone (none) (article_keys.csv)"),
        ({"counterparty": ["4366123456"]}, "A-MOB",
         "tariff T-SEC has no price for article A-MOB valid at 2026-10-01 10:00:00 UTC (prices.csv or the pricing tables)"),
        ({"article_key": ["data"], "duration_s": [60], "volume_bytes": [None]}, None,
         "record has no volume for its article A-GB (unit byte)"),
        # no called number: no zone to blame, the missing price is the reason
        ({"article_key": ["data"], "counterparty": [None], "duration_s": [None], "volume_bytes": [10**9]}, "A-GB",
         "tariff T-SEC has no price for article A-GB valid at 2026-10-01 10:00:00 UTC (prices.csv or the pricing tables)"),
    ],
)
def test_unrateable_records_keep_their_reason_and_are_never_priced_at_zero(record, prices_without, reason):
    core = {}
    if prices_without:
        kept = [(t, a, p) for t, a, p in zip(*CORE["prices"].values()) if not (t == "T-SEC" and a == prices_without)]
        core["prices"] = {"tariff_id": [r[0] for r in kept], "article_id": [r[1] for r in kept], "price": [r[2] for r in kept]}
    result = rate_priced(usage(subscriber_id=[K_SEC], **record), priced(core=core))
    assert result.counts()["unrateable"] == 1
    assert result.table("unrateable").pl().get_column("reason").to_list() == [reason]
    assert result.table("invoice_lines").pl().height == 0


# --- local calls ------------------------------------------------------------------------------

LOCAL = {
    "tariff_pricing": {"tariff_id": ["T-MIN"], "local_zone": ["LOCAL"]},
    "area_codes": {"country_code": ["43", "43", "49"], "area_code": ["316", "1", "30"], "name": ["Graz", "Wien", "Berlin"]},
}


@pytest.mark.parametrize(
    ("subscriber", "key", "counterparty", "zone", "article"),
    [
        (K_MIN, "voice", "43316999999", "LOCAL", "A-LOCAL"),  # Graz calls Graz
        (K_MIN, "voice", "4315551234", "NAT", "A-NAT"),  # Graz calls Vienna
        (K_MIN, "voice", "4366123456", "MOB", "A-MOB"),
        (K_MIN, "sms", "43316999999", "NAT", "A-SMS"),  # sms has no local article: not a local call
        (K_SEC, "voice", "4930999999", "NAT", "A-NAT"),  # Berlin calls Berlin, but T-SEC has no local zone
    ],
)
def test_local_calls_inside_the_callers_area_code_take_the_local_article(subscriber, key, counterparty, zone, article):
    records = usage(subscriber_id=[subscriber], article_key=[key], counterparty=[counterparty])
    result = rate_priced(records, priced(core={"article_keys": LOCAL_KEYS}, **LOCAL))
    assert rated(result, "zone_id", "article_id").row(0) == (zone, article)


# --- special prices ---------------------------------------------------------------------------

SPECIAL = {
    "special_prices": {
        "contract_id": ["K-SEC", "K-SEC", "K-SEC", "K-SEC"],
        "kind": ["friends", "net", "net", "net"],
        "number": ["4312345678", "4312340000", "4366", "4399"],
        "number_to": [None, "4312349999", None, None],
        "article_id": [None, None, None, "A-MOB"],
        "price": ["0.0100", "0.0200", "0.0300", "0.0400"],
    }
}


@pytest.mark.parametrize(
    ("subscriber", "counterparty", "source", "price", "ref"),
    [
        (K_SEC, "4312345678", "special_friends", "0.010000", "special_prices:K-SEC/4312345678"),
        (K_SEC, "4312345000", "special_net", "0.020000", "special_prices:K-SEC/4312340000-4312349999"),
        (K_SEC, "4366123456", "special_net", "0.030000", "special_prices:K-SEC/4366"),
        (K_SEC, "4399123", "tariff", "0.060000", "prices:T-SEC"),  # 4399 is special for A-MOB only
        (K_SEC, "4312399999", "tariff", "0.060000", "prices:T-SEC"),
        (K_SEC, "43123400000", "special_net", "0.020000", "special_prices:K-SEC/4312340000-4312349999"),  # an extension
        (K_SEC, "431234500", "tariff", "0.060000", "prices:T-SEC"),  # 9 digits: shorter than the range's numbers
        (K_SEC, "43123499", "tariff", "0.060000", "prices:T-SEC"),
        (K_MIN, "4312345678", "tariff", "0.060000", "prices:T-MIN"),  # another contract's friend
    ],
)
def test_special_prices_friends_numbers_and_net_prefixes_and_ranges(subscriber, counterparty, source, price, ref):
    result = rate_priced(calls(subscriber, ("2026-10-01 10:00:00", 60, counterparty)), priced(**SPECIAL))
    assert rated(result, "price_source", "price", "price_ref").row(0) == (source, D(price), ref)


#: A friends price for a main number and a net price for its extensions: one number, two kinds.
MAIN_AND_EXTENSIONS = {
    "special_prices": {
        "contract_id": ["K-SEC", "K-SEC"], "kind": ["friends", "net"], "number": ["4312345678", "4312345678"],
        "number_to": [None, None], "article_id": [None, None], "price": ["0.0100", "0.0200"],
    }
}


@pytest.mark.parametrize(
    ("counterparty", "source", "price"),
    [
        ("4312345678", "special_friends", "0.010000"),  # the main number: the friends price, the narrower
        ("431234567812", "special_net", "0.020000"),  # an extension: the net price
    ],
)
def test_a_friends_price_and_a_net_price_on_one_number_price_it_and_its_extensions(counterparty, source, price):
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60, counterparty)), priced(**MAIN_AND_EXTENSIONS))
    assert rated(result, "price_source", "price").row(0) == (source, D(price))


@pytest.mark.parametrize("order", [("friends", "net"), ("net", "friends")], ids=["friends-first", "net-first"])
def test_on_a_15_digit_number_the_friends_price_beats_the_net_price_of_the_same_number(order):
    """15 digits have no extensions: both rows cover exactly the number, so the friends price wins by
    its level, whichever row comes first (review)."""
    prices = {"friends": "0.0100", "net": "0.0200"}
    number = "431234567812345"
    special = {"special_prices": {
        "contract_id": ["K-SEC", "K-SEC"], "kind": list(order), "number": [number, number], "number_to": [None, None],
        "article_id": [None, None], "price": [prices[k] for k in order],
    }}  # fmt: skip
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60, number)), priced(**special))
    assert rated(result, "price_source", "price").row(0) == ("special_friends", D("0.010000"))


# --- time bands -------------------------------------------------------------------------------

BANDS = {
    "time_bands": {
        "tariff_id": ["T-SEC"] * 5,
        "band": ["peak", "offpeak", "offpeak", "weekend", "holiday"],
        "days": ["mon-fri", "mon-fri", "mon-fri", "sat,sun", "holiday"],
        "from_time": ["08:00", "00:00", "18:00", "00:00", "00:00"],
        "until_time": ["18:00", "08:00", "24:00", "24:00", "24:00"],
    },
    "band_prices": {
        "tariff_id": ["T-SEC"] * 3,
        "article_id": ["A-NAT"] * 3,
        "band": ["offpeak", "weekend", "holiday"],
        "price": ["0.0300", "0.0200", "0.0100"],
    },
    "tariff_pricing": {"tariff_id": ["T-SEC"], "holiday_country": ["DE"]},
}


@pytest.mark.parametrize(
    ("start_utc", "band", "amount"),
    [
        ("2026-10-01 10:00:00", "peak", "0.060000"),  # Thursday 12:00 in Berlin (CEST); peak has the base price
        ("2026-10-01 05:59:59", "offpeak", "0.030000"),  # 07:59:59 local
        ("2026-10-01 06:00:00", "peak", "0.060000"),  # 08:00 local
        ("2026-10-01 16:00:00", "offpeak", "0.030000"),  # 18:00 local
        ("2026-10-03 10:00:00", "holiday", "0.010000"),  # Saturday, but German Unity Day: holiday first
        ("2026-10-04 10:00:00", "weekend", "0.020000"),  # Sunday
        ("2026-10-23 22:30:00", "weekend", "0.020000"),  # Friday in UTC, Saturday 00:30 in Berlin
        ("2026-10-26 06:30:00", "offpeak", "0.030000"),  # Monday after the clocks went back: 07:30 CET
        ("2026-10-26 07:00:00", "peak", "0.060000"),  # 08:00 CET
    ],
)
def test_time_bands_in_the_contracts_time_zone_with_holidays(start_utc, band, amount):
    result = rate_priced(calls(K_SEC, (start_utc, 60)), priced(**BANDS))
    assert rated(result, "band", "amount").row(0) == (band, D(amount))


@pytest.mark.parametrize(
    ("local", "band"),
    [
        ("2026-10-26 17:30:00", "peak"),  # Monday, daylight time (-07)
        ("2026-11-02 17:30:00", "peak"),  # the next Monday: British Columbia stays on -07 (DuckDB's zone data)
        ("2026-11-02 07:59:59", "offpeak"),
        ("2026-11-02 08:00:00", "peak"),
        ("2026-11-02 18:00:00", "offpeak"),
    ],
)
def test_a_local_time_read_from_a_file_is_banded_at_the_same_local_time(tmp_path, local, band):
    """A source and a contract both in America/Vancouver: the reader turns the file's wall-clock
    time into UTC and the bands turn it back with the same zone data, so a call at 17:30 is peak
    whichever rule of the zone a library's own database has."""
    path = tmp_path / "calls.csv"
    path.write_text(f"subscriber_id,counterparty,start_time,duration_s\n{K_SEC},4312345678,{local},60\n", encoding="utf-8")
    read = read_usage_file(path, Source(name="csv", format="csv", pattern="*.csv", timezone="America/Vancouver"))
    contracts = {**CORE["contracts"], "timezone": ["Europe/Vienna", "America/Vancouver", "UTC", "UTC"]}
    result = rate_priced(read.usage, priced(core={"contracts": contracts}, **BANDS))
    assert rated(result, "band").rows() == [(band,)]


#: Holiday bands that cover only the daytime: outside them a holiday keeps its weekday's bands.
DAYTIME_HOLIDAY = {**BANDS, "time_bands": {**BANDS["time_bands"], "from_time": ["08:00", "00:00", "18:00", "00:00", "08:00"],
                                           "until_time": ["18:00", "08:00", "24:00", "24:00", "18:00"]}}


@pytest.mark.parametrize(
    ("start_utc", "band", "amount"),
    [
        ("2026-10-03 10:00:00", "holiday", "0.010000"),  # Saturday 12:00 in Berlin, German Unity Day
        ("2026-10-03 18:00:00", "weekend", "0.020000"),  # 20:00: no holiday band, so Saturday's
        ("2026-12-25 09:00:00", "holiday", "0.010000"),  # Friday 10:00 CET, Christmas Day
        ("2026-12-25 19:00:00", "offpeak", "0.030000"),  # 20:00: Friday's band
        ("2026-12-25 05:00:00", "offpeak", "0.030000"),  # 06:00
    ],
)
def test_a_holiday_outside_its_holiday_bands_keeps_the_bands_of_its_weekday(start_utc, band, amount):
    result = rate_priced(calls(K_SEC, (start_utc, 60)), priced(**DAYTIME_HOLIDAY))
    assert rated(result, "band", "amount").row(0) == (band, D(amount))


def test_a_call_across_a_band_boundary_is_priced_whole_in_the_band_it_starts_in():
    # starts 17:59 local (peak), ends 18:05 (off-peak): all 360 s at the peak price
    result = rate_priced(calls(K_SEC, ("2026-10-01 15:59:00", 360)), priced(**BANDS))
    assert rated(result, "band", "quantity", "price", "amount").row(0) == ("peak", 360, D("0.060000"), D("0.360000"))


# --- granularity, connect fee, minimum charge -------------------------------------------------


@pytest.mark.parametrize(
    ("first", "following", "duration", "quantity"),
    [
        (60, 60, 1, 60), (60, 60, 60, 60), (60, 60, 61, 120), (60, 60, 0, 0),
        (1, 1, 1, 1), (1, 1, 61, 61),
        (60, 1, 1, 60), (60, 1, 61, 61),
        (30, 6, 1, 30), (30, 6, 30, 30), (30, 6, 31, 36), (30, 6, 37, 42),
    ],
)
def test_granularity_first_then_following_increments(first, following, duration, quantity):
    tariffs = {
        "tariff_id": ["T-MIN", "T-SEC"], "name": ["per minute", "per second"], "first_increment_s": [str(first), "1"],
        "next_increment_s": [str(following), "1"], "vat_rate": ["0.2000", "0.1900"],
    }
    result = rate_priced(calls(K_MIN, ("2026-10-01 10:00:00", duration)), priced(core={"tariffs": tariffs}))
    # 0.06 per 60 s = 0.001 per second
    assert rated(result, "quantity", "amount").row(0) == (quantity, D(quantity) / 1000)


def test_an_article_may_override_the_tariffs_granularity():
    articles = {**CORE["articles"], "first_increment_s": ["1"] + [None] * 5, "next_increment_s": ["1"] + [None] * 5}
    result = rate_priced(calls(K_MIN, ("2026-10-01 10:00:00", 61)), priced(core={"articles": articles}))
    assert rated(result, "quantity").item() == 61  # T-MIN is 60/60, A-NAT bills per second


@pytest.mark.parametrize(
    ("duration", "fee", "amount"),
    [
        (10, "0.090000", "0.100000"),  # 0.01 + 0.05 connect fee < 0.10 minimum charge
        (120, "0.050000", "0.170000"),  # 0.12 + 0.05 connect fee
        (0, "0.000000", "0.000000"),  # no call, no connect fee
    ],
)
def test_connect_fee_and_minimum_charge_per_call(duration, fee, amount):
    cat = priced(tariff_articles={"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "connect_fee": ["0.05"], "min_charge": ["0.10"]})
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", duration)), cat)
    assert rated(result, "fee", "amount").row(0) == (D(fee), D(amount))


# --- price per quantity -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "volume", "amount"),
    [
        ("sms", None, "0.000600"),  # 0.06 per 100 SMS
        ("data", 500_000_000, "0.030000"),  # A-GB: per 10^9 bytes
        ("data-gib", 1_073_741_824, "0.060000"),  # A-GIB: per 2^30 bytes
        ("data-gib", 1_000_000_000, "0.055879"),  # 10^9 bytes are 0.93 GiB
        # price × bytes beyond 2^63 micro-units: computed in 128 bits, still exact (10^15 B, the largest record)
        ("data", 1_000_000_000_000_000, "60000.000000"),
        ("data", 999_999_999_975_000, "59999.999999"),  # 59 999 999 998.5 micro-units, half up
    ],
)
def test_price_per_quantity_of_units(key, volume, amount):
    records = usage(subscriber_id=[K_SEC], article_key=[key], duration_s=[0 if volume is None else None], volume_bytes=[volume])
    assert rated(rate_priced(records, priced()), "amount").item() == D(amount)


# --- volume tiers -----------------------------------------------------------------------------

NO_BASE_PRICE = {
    "prices": {
        "tariff_id": [t for t, a in zip(CORE["prices"]["tariff_id"], CORE["prices"]["article_id"]) if (t, a) != ("T-SEC", "A-NAT")],
        "article_id": [a for t, a in zip(CORE["prices"]["tariff_id"], CORE["prices"]["article_id"]) if (t, a) != ("T-SEC", "A-NAT")],
        "price": ["0.0600"] * 11,
    }
}


def tiers(method: str, second_price: str = "0.0300", fee: str | None = "0.5000", at_units: int = 120) -> dict:
    return {
        "volume_tiers": {
            "tariff_id": ["T-SEC", "T-SEC"], "article_id": ["A-NAT", "A-NAT"], "method": [method, method],
            "from_quantity": ["0", str(at_units)], "price": ["0.0600", second_price], "flat_fee": [None, fee],
        }
    }


# four minutes given newest first: the walk is in time order, not input order
FOUR_MINUTES = [("2026-10-04 10:00:00", 60), ("2026-10-03 10:00:00", 60), ("2026-10-02 10:00:00", 60), ("2026-10-01 10:00:00", 60)]


@pytest.mark.parametrize(
    ("method", "second_price", "amounts", "tier"),
    [
        # graduated: the first 120 s at 0.06/min, the rest at 0.03/min; the tier's 0.50 fee when it is entered
        ("graduated", "0.0300", ["0.030000", "0.530000", "0.060000", "0.060000"], [2, 2, 1, 1]),
        # volume: 240 s reach tier 2, so every second costs 0.03/min; the fee on the record entering it
        ("volume", "0.0300", ["0.030000", "0.530000", "0.030000", "0.030000"], [2, 2, 2, 2]),
        # tiers may raise the price, too
        ("graduated", "0.0900", ["0.090000", "0.590000", "0.060000", "0.060000"], [2, 2, 1, 1]),
    ],
)
def test_volume_tiers_graduated_and_all_units(method, second_price, amounts, tier):
    result = rate_priced(calls(K_SEC, *FOUR_MINUTES), priced(core=NO_BASE_PRICE, **tiers(method, second_price)))
    got = rated(result, "amount", "tier", "price_source", "price_ref")
    assert got.get_column("amount").to_list() == [D(a) for a in amounts]
    assert got.get_column("tier").to_list() == tier
    assert set(got.select("price_source", "price_ref").rows()) == {("tariff", "volume_tiers:T-SEC")}


def test_a_record_spanning_two_graduated_tiers_is_charged_per_tier():
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 90), ("2026-10-01 11:00:00", 60)), priced(core=NO_BASE_PRICE, **tiers("graduated")))
    # second record: units [90, 150): 30 s at 0.06/min + 30 s at 0.03/min + 0.50 fee
    assert rated(result, "amount", "tier", "tier_before", "price", "fee").rows() == [
        (D("0.090000"), 1, None, D("0.060000"), D("0.000000")),
        (D("0.545000"), 2, 90, D("0.030000"), D("0.500000")),
    ]


def test_tier_fee_of_a_tier_entered_by_a_special_price():
    # a friends call (0.01/min) holds units [0, 150), tier 2's first unit (120) among them: its special price
    # replaces the tier's, fee included; the tariff call after it is in tier 2 (0.03/min) and pays no fee
    special = {"contract_id": ["K-SEC"], "kind": ["friends"], "number": ["4311111111"], "price": ["0.0100"]}
    records = calls(K_SEC, ("2026-10-01 10:00:00", 150, "4311111111"), ("2026-10-01 11:00:00", 60))
    result = rate_priced(records, priced(core=NO_BASE_PRICE, special_prices=special, **tiers("graduated")))
    assert rated(result, "price_source", "amount", "tier", "fee").rows() == [
        ("special_friends", D("0.025000"), None, D("0.000000")),
        ("tariff", D("0.030000"), 2, D("0.000000")),
    ]


def _graduated(article: str, *tiers: tuple[str, str, str | None]) -> dict[str, list]:
    """volume_tiers rows of T-SEC's `article`: graduated (from_quantity, price, flat_fee) tiers."""
    return {
        "tariff_id": ["T-SEC"] * len(tiers), "article_id": [article] * len(tiers), "method": ["graduated"] * len(tiers),
        "from_quantity": [t[0] for t in tiers], "price": [t[1] for t in tiers], "flat_fee": [t[2] for t in tiers],
    }  # fmt: skip


@pytest.mark.parametrize("neighbour", [None, "A-GIB", "A-SMS"])
def test_a_record_spanning_tiers_beyond_64_bits_is_still_exact(neighbour):
    """10^15 bytes of A-GB (per 10^9 B; the largest volume a record may carry): 10^9 B at 0.06, the
    rest at 0.03. 0.03 × 10^15 B is 3·10^19 micro-units · B, beyond 2^63, so the cost is computed in
    128 bits; and the record's
    units lie beyond 2^44, where tiers are keyed, so they are looked up in A-GB's last tier, not
    in the tiers of the next tiered article (`neighbour`)."""
    tiered = {("T-SEC", "A-GB"), ("T-SEC", neighbour)}
    prices = CORE["prices"]
    keep = [(t, a) not in tiered for t, a in zip(prices["tariff_id"], prices["article_id"])]
    tiers = _graduated("A-GB", ("0", "0.0600", None), (str(10**9), "0.0300", None))
    if neighbour:
        other = _graduated(neighbour, ("0", "0.9000", None), ("5", "0.8000", "3.00"))
        tiers = {c: tiers[c] + other[c] for c in tiers}
    cat = priced(core={"prices": {c: [v for v, k in zip(values, keep) if k] for c, values in prices.items()}}, volume_tiers=tiers)
    records = usage(subscriber_id=[K_SEC], article_key=["data"], duration_s=[None], volume_bytes=[10**15])
    # (60 000 µ × 10^9 + 30 000 µ × (10^15 - 10^9)) / 10^9 = 60 000 + 3·10^10 - 30 000 µ
    assert rated(rate_priced(records, cat), "amount", "tier", "tier_before", "fee").row(0) == (D("30000.030000"), 2, 0, D("0"))


@pytest.mark.parametrize(
    ("volumes", "expected"),
    [
        # 1 GB in the first tier, alone: the run stopped before, whatever its records
        ([10**9], [(D("5.000000"), 1, None)]),
        # 1 GB, then 2.5 TB over all three tiers: 999 GB at 5.00 + the whole second TB at 6.00 + 501 GB at 1.00
        ([10**9, 2_500 * 10**9], [(D("5.000000"), 1, None), (D("11496.000000"), 3, 10**9)]),
    ],
)
def test_data_tiers_a_terabyte_wide_are_priced_exactly(volumes, expected):
    """Graduated tiers of A-GB (per 10^9 B): 5.00 for the first TB, 6.00 for the second, 1.00 above.
    A full tier costs 5·10^6 µ × 10^12 B before dividing by price_per, beyond 2^62: every run with
    this catalog stopped ('volume tiers too wide for their price') although it had loaded."""
    prices = {k: [v for v, a, t in zip(values, CORE["prices"]["article_id"], CORE["prices"]["tariff_id"]) if (t, a) != ("T-SEC", "A-GB")]
              for k, values in CORE["prices"].items()}  # fmt: skip
    tiers = _graduated("A-GB", ("0", "5.00", None), (str(10**12), "6.00", None), (str(2 * 10**12), "1.00", None))
    n = len(volumes)
    records = usage(
        subscriber_id=[K_SEC] * n, start_time=[at(f"2026-10-0{i + 1} 10:00:00") for i in range(n)], article_key=["data"] * n,
        volume_bytes=volumes, duration_s=[None] * n, counterparty=[None] * n,
    )
    result = rate_priced(records, priced(core={"prices": prices}, volume_tiers=tiers))
    assert rated(result, "amount", "tier", "tier_before").rows() == expected


def test_tiers_count_per_contract_and_billing_period():
    result = rate_priced(
        calls(K_SEC, ("2026-10-01 10:00:00", 120), ("2026-10-02 10:00:00", 60), ("2026-11-01 10:00:00", 60)),
        priced(core=NO_BASE_PRICE, **tiers("graduated", fee=None)),
    )
    assert rated(result, "period", "tier", "amount").rows() == [
        ("2026-10", 1, D("0.120000")), ("2026-10", 2, D("0.030000")), ("2026-11", 1, D("0.060000")),
    ]


# --- free quantities --------------------------------------------------------------------------

FREE_100 = {"free_quantities": {"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "quantity": ["100"]}}


def test_free_quantity_is_pooled_over_the_contracts_ids_and_used_in_time_order():
    # two numbers of K-SEC's range, given newest first
    records = usage(
        subscriber_id=["4930123451", "4930123450", "4930123451"],
        start_time=[at("2026-10-03 10:00:00"), at("2026-10-02 10:00:00"), at("2026-10-01 10:00:00")],
        duration_s=[60, 60, 60],
    )
    result = rate_priced(records, priced(**FREE_100))
    assert rated(result, "start_time", "quantity", "free_quantity", "amount").sort("start_time").drop("start_time").rows() == [
        (60, 60, D("0.000000")), (60, 40, D("0.020000")), (60, 0, D("0.060000")),
    ]
    assert lines(result, "quantity", "free_quantity", "net_amount") == [(180, 100, D("0.08"))]


def test_free_quantity_starts_again_each_period_and_stays_with_its_article():
    records = calls(K_SEC, ("2026-10-31 23:59:00", 120), ("2026-11-01 00:00:00", 120), ("2026-11-01 01:00:00", 60, "4366123456"))
    result = rate_priced(records, priced(**FREE_100))
    assert rated(result, "period", "article_id", "free_quantity", "amount").rows() == [
        ("2026-10", "A-NAT", 100, D("0.020000")), ("2026-11", "A-NAT", 100, D("0.020000")), ("2026-11", "A-MOB", 0, D("0.060000")),
    ]


# --- flat prices ------------------------------------------------------------------------------


def test_flat_price_usage_costs_nothing_per_use_and_says_so():
    cat = priced(flat_prices={"tariff_id": ["T-SEC"], "article_id": ["A-MOB"], "flat_price": ["10.00"], "reference_price": ["0.0900"]})
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60, "4366123456")), cat)
    assert rated(result, "article_id", "price_source", "price_ref", "amount").row(0) == (
        "A-MOB", "flat", "flat_prices:T-SEC", D("0.000000"),
    )


# --- VAT --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscriber", "key", "overrides", "vat_rate", "vat_code"),
    [
        (K_SEC, "voice", None, "0.1900", "normal"),  # the tariff's rate
        (K_SEC, "sms", None, "0.1000", "normal"),  # the article's own rate (articles.csv)
        (K_SEC, "voice", [(None, "0.0700", None)], "0.0700", "normal"),  # override for every tariff
        (K_SEC, "voice", [(None, "0.0700", None), ("T-SEC", "0.0500", None)], "0.0500", "normal"),  # the tariff's own first
        (K_SEC, "voice", [(None, "0.0700", "2026-11-01")], "0.1900", "normal"),  # valid from November only
        (K_RC, "voice", None, "0.0000", "reverse_charge"),
        (K_EX, "voice", None, "0.0000", "exempt"),
    ],
)
def test_vat_rate_travels_on_every_line(subscriber, key, overrides, vat_rate, vat_code):
    articles = {**CORE["articles"], "vat_rate": [None, None, None, "0.1000", None, None]}
    tables = {}
    if overrides:
        tables["vat_overrides"] = {
            "article_id": ["A-NAT"] * len(overrides), "tariff_id": [o[0] for o in overrides],
            "vat_rate": [o[1] for o in overrides], "valid_from": [o[2] for o in overrides],
        }
    records = usage(subscriber_id=[subscriber], article_key=[key], duration_s=[60])
    result = rate_priced(records, priced(core={"articles": articles}, **tables))
    assert lines(result, "vat_rate", "vat_code") == [(D(vat_rate), vat_code)]


def test_invoice_lines_come_by_period_contract_and_article():
    """The lines as the run hands them to the writer: by period, then contract, then article
    (catalog order of the contract and of the tariff's articles), whatever order the records came in."""
    records = usage(
        subscriber_id=[K_SEC, K_MIN, K_SEC, K_MIN, K_SEC],
        start_time=[at(t) for t in ("2026-10-02 10:00:00", "2026-10-03 10:00:00", "2026-09-30 10:00:00", "2026-09-29 10:00:00", "2026-10-04 10:00:00")],
        article_key=["sms", "voice", "voice", "voice", "voice"],
        duration_s=[0, 60, 60, 60, 60],
    )
    result = rate_priced(records, priced())
    assert result.lines.select("period", "contract_id", "article_id", "records").rows() == [
        ("2026-09", "K-MIN", "A-NAT", 1),
        ("2026-09", "K-SEC", "A-NAT", 1),
        ("2026-10", "K-MIN", "A-NAT", 1),
        ("2026-10", "K-SEC", "A-NAT", 1),
        ("2026-10", "K-SEC", "A-SMS", 1),
    ]


def test_a_line_whose_records_sum_past_64_bits_is_summed_exactly():
    """Ten calls of 999 minutes at 999 999 999.999999 per minute: 998 999 999 999.999001 each, a
    line of 9 989 999 999 999.99001, which as micro-units (9.99 · 10¹⁸) passes what 64 bits hold."""
    prices = {k: list(v) for k, v in CORE["prices"].items()}
    prices["price"][ARTICLES.index("A-NAT") + 6] = "999999999.999999"  # T-SEC's A-NAT
    records = calls(K_SEC, *((f"2026-10-{day:02d} 10:00:00", 59_940) for day in range(1, 11)))
    result = rate_priced(records, priced(core={"prices": prices}))
    assert lines(result, "records", "quantity", "net_amount") == [(10, 599_400, D("9989999999999.99"))]


@pytest.mark.parametrize(("price", "amount"), [("1000000.00", "1000000.000000"), ("250000000.50", "250000000.500000")])
def test_a_price_of_a_million_or_more_is_priced_exactly(price, amount):
    """Prices in currencies of small units (JPY, HUF) reach millions; to_micro used to overflow there."""
    prices = CORE["prices"]
    at = {(t, a): i for i, (t, a) in enumerate(zip(prices["tariff_id"], prices["article_id"]))}[("T-SEC", "A-NAT")]
    core = {"prices": {**prices, "price": [price if i == at else p for i, p in enumerate(prices["price"])]}}
    result = rate_priced(calls(K_SEC, ("2026-10-01 10:00:00", 60)), priced(core=core))
    assert rated(result, "price", "amount").row(0) == (D(amount), D(amount))


def test_an_amount_beyond_what_a_record_may_cost_is_unrateable_and_the_run_goes_on():
    """An absurd price (the most prices.csv takes) on a week-long call: 10¹⁶ of the currency, beyond
    DECIMAL(18,6). The run stopped with an overflow; the record is unrateable with its reason."""
    prices = {k: list(v) for k, v in CORE["prices"].items()}
    prices["price"][ARTICLES.index("A-NAT") + 6] = "999999999999.999999"  # T-SEC's A-NAT
    records = calls(K_SEC, ("2026-10-01 10:00:00", 604_800, "4312345678"), ("2026-10-01 11:00:00", 60, "4366123456"))
    result = rate_priced(records, priced(core={"prices": prices}))
    assert rated(result, "article_id", "amount").rows() == [("A-MOB", D("0.060000"))]
    assert result.table("unrateable").pl().get_column("reason").to_list() == [
        "amount beyond 999999999999.999999, the most one record may cost: 604800 seconds of article A-NAT at 999999999999.999999 "
        "per 60 (tariff T-SEC)"
    ]
    assert result.counts()["unrateable"] == 1


def test_a_record_beyond_the_limit_leaves_the_walk_with_its_card_price_and_frees_the_units_after_it():
    """A-GB has 1 GB free and graduated tiers. The record of 10¹⁵ bytes is beyond the limit: the second
    walk, without it, leaves the free gigabyte to the next record, which is then wholly free and no
    longer tiered. Both keep the card's price (the tier prices of the first walk are put back): the
    free record's line says 0.01, the unrateable record's reason the price it was rated at."""
    prices = {k: [v for v, a, t in zip(values, CORE["prices"]["article_id"], CORE["prices"]["tariff_id"]) if not (a == "A-GB" and t == "T-SEC")]
              for k, values in CORE["prices"].items()}  # fmt: skip
    tiers = {"tariff_id": ["T-SEC"] * 2, "article_id": ["A-GB"] * 2, "method": ["graduated"] * 2,
             "from_quantity": ["0", "10000000000000"], "price": ["0.01", "2000000"], "flat_fee": [None, None]}  # fmt: skip
    free = {"tariff_id": ["T-SEC"], "article_id": ["A-GB"], "quantity": ["1000000000"]}
    records = usage(
        subscriber_id=[K_SEC] * 2, start_time=[at("2026-10-01 10:00:00"), at("2026-10-01 11:00:00")], article_key=["data"] * 2,
        volume_bytes=[10**15, 10**9], duration_s=[None] * 2, counterparty=[None] * 2,
    )
    result = rate_priced(records, priced(core={"prices": prices}, volume_tiers=tiers, free_quantities=free))
    assert rated(result, "volume_bytes", "free_quantity", "tier", "price", "amount").rows() == [(10**9, 10**9, None, D("0.010000"), D("0.000000"))]
    assert result.table("unrateable").pl().get_column("reason").to_list() == [
        "amount beyond 999999999999.999999, the most one record may cost: 1000000000000000 bytes of article A-GB at 0.010000 per 1000000000 "
        "(tariff T-SEC)"
    ]


def test_an_amount_beyond_the_limit_by_its_connect_fee_alone_is_unrateable():
    """A normal price with the largest connect fee tariff_articles.csv takes: the usage is small, so it is
    computed in 64 bits, but usage plus fee passes DECIMAL(18,6). The call is unrateable; a call of another
    article is priced as always."""
    fees = {"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "connect_fee": ["999999999999.999999"], "min_charge": [None]}
    records = calls(K_SEC, ("2026-10-01 10:00:00", 60, "4312345678"), ("2026-10-01 11:00:00", 60, "4366123456"))
    result = rate_priced(records, priced(tariff_articles=fees))
    assert rated(result, "article_id", "amount").rows() == [("A-MOB", D("0.060000"))]
    assert result.table("unrateable").pl().get_column("reason").str.starts_with("amount beyond").to_list() == [True]


def test_a_record_beyond_the_amount_limit_uses_no_tier_and_no_free_units():
    """Graduated tiers of A-GB: 0.01 per GB below 10¹³ bytes, 2 000 000 above. A record of 10¹⁵ bytes
    is beyond the limit (unrateable); the 1 GB after it costs what it costs alone, 0.01. It was priced
    at 2 000 000.00: the unrateable record had filled the cheap tier."""
    prices = {k: [v for v, a, t in zip(values, CORE["prices"]["article_id"], CORE["prices"]["tariff_id"]) if not (a == "A-GB" and t == "T-SEC")]
              for k, values in CORE["prices"].items()}  # fmt: skip
    tiers = {"tariff_id": ["T-SEC"] * 2, "article_id": ["A-GB"] * 2, "method": ["graduated"] * 2,
             "from_quantity": ["0", "10000000000000"], "price": ["0.01", "2000000"], "flat_fee": [None, None]}  # fmt: skip
    records = usage(
        subscriber_id=[K_SEC] * 2, start_time=[at("2026-10-01 10:00:00"), at("2026-10-01 11:00:00")], article_key=["data"] * 2,
        volume_bytes=[10**15, 10**9], duration_s=[None] * 2, counterparty=[None] * 2,
    )
    result = rate_priced(records, priced(core={"prices": prices}, volume_tiers=tiers))
    assert rated(result, "volume_bytes", "amount").rows() == [(10**9, D("0.010000"))]
    assert result.table("unrateable").pl().get_column("reason").str.starts_with("amount beyond").to_list() == [True]
