"""The pricing catalog is validated like the core catalog: every problem with file, line, column, value and rule."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.catalog import CatalogError, problem_text
from pipeline.price.catalog import band_minutes
from schemas.pricing import DAY_LIST
from tests.price.factory import priced


@pytest.mark.parametrize(
    ("tables", "problem"),
    [
        ({"promotions": {"promotion_id": ["P"], "article_id": ["A-NAT"], "price": ["0.01"],
                         "valid_from": ["2026-10-15 00:00:00"], "valid_until": ["2026-10-01 00:00:00"]}},
         ("promotions.csv", 2, "valid_until", "valid_until must be after valid_from")),
        ({"price_lists": {"price_list_id": ["PL", "PL"], "article_id": ["A-NAT", "A-NAT"], "price": ["0.01", "0.02"],
                          "valid_from": [None, "2026-10-01"]}},
         ("price_lists.csv", 3, "valid_from", "overlaps an earlier row with the same price_list_id, article_id, band")),
        ({"volume_tiers": {"tariff_id": ["T-MIN"], "article_id": ["A-NAT"], "method": ["graduated"], "from_quantity": ["60"], "price": ["0.01"]}},
         ("volume_tiers.csv", 2, "from_quantity", "the first tier of a tariff and article must start at from_quantity 0")),
        ({"volume_tiers": {"tariff_id": ["T-MIN"] * 2, "article_id": ["A-NAT"] * 2, "method": ["graduated"] * 2,
                           "from_quantity": ["0", str(2**44)], "price": ["0.01", "0.02"]}},
         ("volume_tiers.csv", 3, "from_quantity", "a tier must start below 2^44 = 17592186044416 units")),
        ({"volume_tiers": {"tariff_id": ["T-MIN"] * 2, "article_id": ["A-NAT"] * 2, "method": ["graduated", "volume"],
                           "from_quantity": ["0", "60"], "price": ["0.01", "0.02"]}},
         ("volume_tiers.csv", 2, "method", "all tiers of one tariff and article use the same method")),
        ({"volume_tiers": {"tariff_id": ["T-MIN"], "article_id": ["A-NAT"], "method": ["graduated"], "from_quantity": ["0"], "price": ["0.01"]}},
         ("volume_tiers.csv", 2, "article_id",
          "also has a base price in prices.csv; tiers replace the tariff's base price, remove one of them")),
        ({"special_prices": {"contract_id": ["K-MIN"], "kind": ["friends"], "number": ["4312345678"], "number_to": ["4312345679"], "price": ["0.01"]}},
         ("special_prices.csv", 2, "number_to", "friends are single numbers: number_to applies to kind net only")),
        ({"special_prices": {"contract_id": ["K-NONE"], "kind": ["net"], "number": ["43"], "price": ["0.01"]}},
         ("special_prices.csv", 2, "contract_id", "must exist in contracts.contract_id")),
        ({"special_prices": {"contract_id": ["K-MIN"], "kind": ["net"], "number": ["+43"], "price": ["0.01"]}},
         ("special_prices.csv", 2, "number", "str_matches('^[1-9][0-9]{0,14}$')")),
        ({"area_codes": {"country_code": ["43", "43"], "area_code": ["316", "3162"]}},
         ("area_codes.csv", 3, "area_code", "another area code is a prefix of this one; area codes must be prefix-free")),
        ({"customer_prices": {"customer_id": ["C1"], "article_id": ["A-NAT"], "band": ["night"], "price": ["0.01"]}},
         ("customer_prices.csv", 2, "band", "band is not defined in time_bands.csv")),
        ({"tariff_pricing": {"tariff_id": ["T-MIN"], "min_revenue": ["20"], "cost_cap": ["10"]}},
         ("tariff_pricing.csv", 2, "min_revenue", "min_revenue must not exceed cost_cap")),
        ({"tariff_pricing": {"tariff_id": ["T-MIN"], "holiday_country": ["XX"]}},
         ("tariff_pricing.csv", 2, "holiday_country", "not a country the holidays package knows")),
        ({"tariff_pricing": {"tariff_id": ["T-MIN"], "holiday_country": ["DE"], "holiday_subdiv": ["Bavaria"]}},
         ("tariff_pricing.csv", 2, "holiday_subdiv", "not a subdivision of holiday_country the holidays package knows")),
        ({"tariff_pricing": {"tariff_id": ["T-MIN"], "holiday_country": ["AT"], "holiday_subdiv": ["BY"]}},
         ("tariff_pricing.csv", 2, "holiday_subdiv", "not a subdivision of holiday_country the holidays package knows")),
        ({"time_bands": {"tariff_id": ["T-MIN", "T-MIN"], "band": ["day", "late"], "days": ["mon-fri", "fri"],
                         "from_time": ["08:00", "17:00"], "until_time": ["18:00", "24:00"]}},
         ("time_bands.csv", 2, "from_time", "overlaps another band of the tariff on the same day and time")),
        # holiday bands of a tariff without a holiday calendar: no day is a holiday, so they never applied
        ({"time_bands": {"tariff_id": ["T-MIN", "T-MIN"], "band": ["day", "feast"], "days": ["mon-sun", "holiday"],
                         "from_time": ["00:00", "00:00"], "until_time": ["24:00", "24:00"]},
          "tariff_pricing": {"tariff_id": ["T-SEC"], "holiday_country": ["DE"]}},
         ("time_bands.csv", 3, "days", "holiday bands need the tariff's holiday_country in tariff_pricing.csv: without it no day is a holiday")),
        # `holiday` is no weekday: as a range's start, `holiday-sun` covered Monday to Sunday, every day but holidays
        ({"time_bands": {"tariff_id": ["T-SEC"], "band": ["feast"], "days": ["holiday-sun"], "from_time": ["00:00"], "until_time": ["24:00"]},
          "tariff_pricing": {"tariff_id": ["T-SEC"], "holiday_country": ["DE"]}},
         ("time_bands.csv", 2, "days", f"str_matches('{DAY_LIST}')")),
        ({"promotions": {"promotion_id": ["P"], "article_id": ["A-NAT"], "price": ["0.0100001"],
                         "valid_from": ["2026-10-01 00:00:00"], "valid_until": ["2026-10-15 00:00:00"]}},
         ("promotions.csv", 2, "price", "decimal number with at most 12 digits before the point and 6 after it")),
        ({"free_quantities": {"tariff_id": ["T-MIN"], "article_id": ["A-NAT"], "quantity": ["lots"]}},
         ("free_quantities.csv", 2, "quantity", "type Int64")),
        ({"special_prices": {"contract_id": ["K-MIN"], "kind": ["net"], "number": ["43"], "price": ["0.01"], "valid_from": ["26-10-01"]}},
         ("special_prices.csv", 2, "valid_from", "date YYYY-MM-DD")),  # the year 26, not 2026
        ({"promotions": {"promotion_id": ["P"], "article_id": ["A-NAT"], "price": ["0.01"],
                         "valid_from": ["26-10-01 00:00:00"], "valid_until": ["2026-10-15 00:00:00"]}},
         ("promotions.csv", 2, "valid_from", "timestamp YYYY-MM-DD[ HH:MM:SS] (UTC)")),
    ],
)
def test_a_bad_pricing_row_is_reported_with_file_line_column_and_rule(tables, problem):
    with pytest.raises(CatalogError) as caught:
        priced(**tables)
    rows = caught.value.errors.select("file", "line", "column", "rule").rows()
    assert problem in rows


@pytest.mark.parametrize(("country", "subdiv"), [("DE", "BY"), ("DE", "Bayern"), ("FR", "Alsace"), ("US", "CA"), ("AT", None)])
def test_a_holiday_subdivision_by_its_code_or_its_name_is_accepted(country, subdiv):
    tables = {"tariff_pricing": {"tariff_id": ["T-MIN"], "holiday_country": [country], "holiday_subdiv": [subdiv]}}
    assert priced(**tables).pricing.tariff_pricing.get_column("holiday_subdiv").to_list() == [subdiv]


def test_a_missing_pricing_file_is_no_rule_at_all():
    assert priced().pricing.volume_tiers.height == 0


@pytest.mark.parametrize(
    ("days", "covered"),
    [
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("fri-mon", [0, 4, 5, 6]),  # over the weekend into the next week
        ("sun-sun", [6]),
        ("sat-tue,thu", [0, 1, 3, 5, 6]),
        ("holiday", [7]),
    ],
)
def test_a_band_covers_the_days_its_days_name(days, covered):
    bands = pl.DataFrame({"tariff_id": ["T"], "band": ["b"], "days": [days], "from_time": ["08:00"], "until_time": ["08:02"]})
    assert band_minutes(bands).group_by("day").len().sort("day").rows() == [(d, 2) for d in covered]


@pytest.mark.parametrize(
    ("zones", "tables", "expected"),
    [
        (["NAT", "MOB", "MBO"], {},
         ["article_keys.csv:5: column 'zone_id': value 'MBO' breaks rule "
          "must exist in zones.zone_id (or be a tariffs.catchall_zone or tariff_pricing.local_zone)"]),
        (["NAT", "MOB", "LOCAL"], {},  # a local zone no tariff has
         ["article_keys.csv:5: column 'zone_id': value 'LOCAL' breaks rule "
          "must exist in zones.zone_id (or be a tariffs.catchall_zone or tariff_pricing.local_zone)"]),
        (["NAT", "MOB", "LOCAL"], {"tariff_pricing": {"tariff_id": ["T-MIN"], "local_zone": ["LOCAL"]}}, []),
    ],
    ids=["a-typo", "an-unused-local-zone", "a-local-zone"],
)
def test_an_article_key_names_a_zone_a_record_can_land_in(zones, tables, expected):
    keys = {"article_key": ["sms", "voice", "voice", "voice"], "zone_id": [None, *zones], "article_id": ["A-SMS", "A-NAT", "A-MOB", "A-LOCAL"]}
    try:
        priced(core={"article_keys": keys}, **tables)
        found = []
    except CatalogError as caught:
        found = [problem_text(*row) for row in caught.errors.rows()]
    assert found == expected


def pricing_problems(**tables) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        priced(**tables)
    return [problem_text(*row) for row in caught.value.errors.rows()]


def test_cell_row_and_reference_problems_are_listed_at_once():
    """A bad cell hides only its own row from the rules across rows, not every other problem."""
    tables = {
        "price_lists": {"price_list_id": ["PL-KEY"] * 4, "article_id": ["A-NAT", "A-MOB", "A-MOB", "A-NAT"],
                        "price": ["x", "0.01", "0.02", "-1"], "valid_from": [None, None, "2026-10-01", None]},
        "customer_prices": {"customer_id": ["C9"], "article_id": ["A-NAT"], "price": ["0.01"]},
        "time_bands": {"tariff_id": ["T-MIN", "T-MIN"], "band": ["day", "night"], "days": ["mon-fri", "mon-fri"],
                       "from_time": ["8:00", "18:00"], "until_time": ["18:00", "08:00"]},
        "band_prices": {"tariff_id": ["T-MIN"], "article_id": ["A-NAT"], "band": ["day"], "price": ["0.01"]},
    }
    assert pricing_problems(**tables) == [
        "customer_prices.csv:2: column 'customer_id': value 'C9' breaks rule must exist in customers.customer_id",
        "price_lists.csv:2: column 'price': value 'x' breaks rule "
        "decimal number with at most 12 digits before the point and 6 after it",
        "price_lists.csv:4: column 'valid_from': value '2026-10-01' breaks rule "
        "overlaps an earlier row with the same price_list_id, article_id, band",
        "price_lists.csv:5: column 'price': value '-1.000000' breaks rule greater_than_or_equal_to(0)",
        "time_bands.csv:2: column 'from_time': value '8:00' breaks rule str_matches('^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$')",
        "time_bands.csv:3: column 'until_time': value '08:00' breaks rule until_time must be after from_time",
    ]
