"""Pricing catalog tables (pandera): every rule of DOMAIN §4 beyond the core catalog's base prices.

One model per optional file in the catalog directory (`<table>.csv`, next to the files of
schemas/catalog.py and schemas/billing.py). Every file is optional: a missing file is an
empty table and its rule does not apply. The rules and their order are in docs/pricing.md.

Quantities (free quantities, tier bounds) are in the article's rated unit: seconds after
granularity, bytes, or events. Date validity follows schemas/catalog.py: UTC calendar
dates, `valid_from` inclusive, `valid_until` exclusive, empty means open; promotions are
valid between UTC timestamps. Money is DECIMAL(18,6), per `price_per` units of the article.
"""

from __future__ import annotations

import pandera.polars as pandera
import polars as pl

from schemas.catalog import COUNTRY_CODE, E164_DIGITS, MONEY, RATE, UTC

PERCENT = pl.Decimal(6, 2)

#: The precedence of prices, highest first (docs/pricing.md); `flat` articles are never priced per use.
PRICE_SOURCES = ("special_friends", "special_net", "customer", "promotion", "price_list", "tariff", "flat")
SPECIAL_KINDS = ("friends", "net")
TIER_METHODS = ("graduated", "volume")
#: Tier bounds are counted in 44 bits (pipeline/price/walk.py keys a tier by its tariff-article and
#: first unit in one integer): a tier starts below 2^44 units, 17.6 TB or 557 000 years of seconds.
#: Usage beyond that lies in the last tier.
TIER_UNIT_BITS = 44
TIER_UNITS_MAX = 1 << TIER_UNIT_BITS
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
#: Day words of time bands: weekdays and ranges of them (`fri-mon` runs over the weekend), or
#: `holiday` (a public holiday of the tariff's holiday country), which is no weekday and so never
#: starts a range (`holiday-sun` would be read as Monday to Sunday).
DAY_LIST = r"^((mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?|holiday)(,((mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?|holiday))*$"

#: Article ids of the adjustment lines minimum revenue and cost cap produce (not catalog articles).
MIN_REVENUE_ARTICLE = "MIN_REVENUE"
COST_CAP_ARTICLE = "COST_CAP"


class _Strict:
    strict = True
    coerce = False


class TariffPricing(pandera.DataFrameModel):
    """Tariff-level pricing rules: minimum revenue and cost cap per billing period, the cost-control
    tolerance, the pseudo-zone of local calls, and the holiday calendar of its time bands."""

    tariff_id: str = pandera.Field(unique=True)
    min_revenue: MONEY = pandera.Field(nullable=True, ge=0)
    cost_cap: MONEY = pandera.Field(nullable=True, ge=0)
    tolerance_pct: PERCENT = pandera.Field(nullable=True, ge=0)
    local_zone: str = pandera.Field(nullable=True, str_length={"min_value": 1})
    holiday_country: str = pandera.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    holiday_subdiv: str = pandera.Field(nullable=True)

    Config = _Strict


class TariffArticles(pandera.DataFrameModel):
    """Per tariff and article: a connect fee and a minimum charge per call, and whether the
    article counts toward the tariff's minimum revenue and cost cap."""

    tariff_id: str
    article_id: str
    connect_fee: MONEY = pandera.Field(nullable=True, ge=0)
    min_charge: MONEY = pandera.Field(nullable=True, ge=0)
    min_revenue: bool
    cost_cap: bool

    Config = _Strict


class BandPrices(pandera.DataFrameModel):
    """A tariff's base price of an article in one time band (beats prices.csv in that band)."""

    tariff_id: str
    article_id: str
    band: str
    price: MONEY = pandera.Field(ge=0)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class PriceLists(pandera.DataFrameModel):
    """Prices of a price list (customers.price_list_id); an empty band applies to every band."""

    price_list_id: str
    article_id: str
    band: str = pandera.Field(nullable=True)
    price: MONEY = pandera.Field(ge=0)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class CustomerPrices(pandera.DataFrameModel):
    """A customer's own price of an article."""

    customer_id: str
    article_id: str
    band: str = pandera.Field(nullable=True)
    price: MONEY = pandera.Field(ge=0)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class Promotions(pandera.DataFrameModel):
    """A promotional price, valid between two UTC instants; an empty tariff_id applies to every tariff."""

    promotion_id: str = pandera.Field(str_length={"min_value": 1})
    tariff_id: str = pandera.Field(nullable=True)
    article_id: str
    band: str = pandera.Field(nullable=True)
    price: MONEY = pandera.Field(ge=0)
    valid_from: UTC
    valid_until: UTC

    Config = _Strict


class SpecialPrices(pandera.DataFrameModel):
    """A contract's destination-dependent price. `friends`: one exact called number. `net`: every
    number that starts with `number`, or the range `number`–`number_to` (extensions included).
    An empty article_id applies to whatever article the call is billed as."""

    contract_id: str
    kind: str = pandera.Field(isin=list(SPECIAL_KINDS))
    number: str = pandera.Field(str_matches=E164_DIGITS)
    number_to: str = pandera.Field(nullable=True, str_matches=E164_DIGITS)
    article_id: str = pandera.Field(nullable=True)
    band: str = pandera.Field(nullable=True)
    price: MONEY = pandera.Field(ge=0)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


class VolumeTiers(pandera.DataFrameModel):
    """A tier of a tariff's article price, from `from_quantity` (rated units per billing period and
    contract) up to the next tier. `graduated`: each tier's units at its price; `volume`: all units
    at the price of the tier reached. A tier's flat fee is charged once, when the tier is entered."""

    tariff_id: str
    article_id: str
    method: str = pandera.Field(isin=list(TIER_METHODS))
    from_quantity: pl.Int64 = pandera.Field(ge=0)
    price: MONEY = pandera.Field(ge=0)
    flat_fee: MONEY = pandera.Field(nullable=True, ge=0)

    @pandera.check("from_quantity", name=f"a tier must start below 2^{TIER_UNIT_BITS} = {TIER_UNITS_MAX} units")
    def starts_in_range(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("from_quantity") < TIER_UNITS_MAX)

    Config = _Strict


class FreeQuantities(pandera.DataFrameModel):
    """Rated units of an article free per billing period, pooled over all IDs of a contract."""

    tariff_id: str
    article_id: str
    quantity: pl.Int64 = pandera.Field(ge=1)

    Config = _Strict


class FlatPrices(pandera.DataFrameModel):
    """A flat-price article: its usage is covered by `flat_price` per period (billed as a position)
    and valued at `reference_price` per `price_per` units for cost control."""

    tariff_id: str
    article_id: str
    flat_price: MONEY = pandera.Field(ge=0)
    reference_price: MONEY = pandera.Field(ge=0)

    Config = _Strict


class TimeBands(pandera.DataFrameModel):
    """When a tariff's band applies, in the contract's local time: `days` like `mon-fri`, `sat,sun`
    or `holiday`; from `from_time` (inclusive) to `until_time` (exclusive, `24:00` = midnight)."""

    tariff_id: str
    band: str = pandera.Field(str_length={"min_value": 1})
    days: str = pandera.Field(str_matches=DAY_LIST)
    from_time: str = pandera.Field(str_matches=CLOCK)
    until_time: str = pandera.Field(str_matches=CLOCK)

    Config = _Strict


class AreaCodes(pandera.DataFrameModel):
    """The numbering plan's area codes: a local call stays inside the caller's `country_code` +
    `area_code` (the code's length is its number of digits)."""

    country_code: str = pandera.Field(str_matches=COUNTRY_CODE)
    area_code: str = pandera.Field(str_matches=r"^[0-9]{1,8}$")
    name: str = pandera.Field(nullable=True)

    Config = _Strict


class VatOverrides(pandera.DataFrameModel):
    """An article's VAT rate, for one tariff or (empty tariff_id) every tariff, from a date on."""

    article_id: str
    tariff_id: str = pandera.Field(nullable=True)
    vat_rate: RATE = pandera.Field(ge=0, le=1)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


#: Pricing catalog tables; each is read from `<name>.csv` in the catalog directory when present.
CATALOG_TABLES: dict[str, type[pandera.DataFrameModel]] = {
    "tariff_pricing": TariffPricing,
    "tariff_articles": TariffArticles,
    "band_prices": BandPrices,
    "price_lists": PriceLists,
    "customer_prices": CustomerPrices,
    "promotions": Promotions,
    "special_prices": SpecialPrices,
    "volume_tiers": VolumeTiers,
    "free_quantities": FreeQuantities,
    "flat_prices": FlatPrices,
    "time_bands": TimeBands,
    "area_codes": AreaCodes,
    "vat_overrides": VatOverrides,
}

#: Optional columns with the value an absent column takes.
DEFAULTS: dict[str, dict[str, object]] = {
    "tariff_pricing": {
        "min_revenue": None, "cost_cap": None, "tolerance_pct": None, "local_zone": None,
        "holiday_country": None, "holiday_subdiv": None,
    },
    "tariff_articles": {"connect_fee": None, "min_charge": None, "min_revenue": "false", "cost_cap": "false"},
    "band_prices": {"valid_from": None, "valid_until": None},
    "price_lists": {"band": None, "valid_from": None, "valid_until": None},
    "customer_prices": {"band": None, "valid_from": None, "valid_until": None},
    "promotions": {"tariff_id": None, "band": None},
    "special_prices": {"number_to": None, "article_id": None, "band": None, "valid_from": None, "valid_until": None},
    "volume_tiers": {"flat_fee": None},
    "area_codes": {"name": None},
    "vat_overrides": {"tariff_id": None, "valid_from": None, "valid_until": None},
}

#: (table, column) must refer to (table, column) of the core catalog.
REFERENCES: list[tuple[str, str, str, str]] = [
    ("tariff_pricing", "tariff_id", "tariffs", "tariff_id"),
    ("tariff_articles", "tariff_id", "tariffs", "tariff_id"),
    ("tariff_articles", "article_id", "articles", "article_id"),
    ("band_prices", "tariff_id", "tariffs", "tariff_id"),
    ("band_prices", "article_id", "articles", "article_id"),
    ("price_lists", "article_id", "articles", "article_id"),
    ("customer_prices", "customer_id", "customers", "customer_id"),
    ("customer_prices", "article_id", "articles", "article_id"),
    ("promotions", "tariff_id", "tariffs", "tariff_id"),
    ("promotions", "article_id", "articles", "article_id"),
    ("special_prices", "contract_id", "contracts", "contract_id"),
    ("special_prices", "article_id", "articles", "article_id"),
    ("volume_tiers", "tariff_id", "tariffs", "tariff_id"),
    ("volume_tiers", "article_id", "articles", "article_id"),
    ("free_quantities", "tariff_id", "tariffs", "tariff_id"),
    ("free_quantities", "article_id", "articles", "article_id"),
    ("flat_prices", "tariff_id", "tariffs", "tariff_id"),
    ("flat_prices", "article_id", "articles", "article_id"),
    ("time_bands", "tariff_id", "tariffs", "tariff_id"),
    ("vat_overrides", "article_id", "articles", "article_id"),
    ("vat_overrides", "tariff_id", "tariffs", "tariff_id"),
]

#: Columns that identify a row: two rows with the same key and overlapping validity are an error.
KEYS: dict[str, tuple[str, ...]] = {
    "tariff_articles": ("tariff_id", "article_id"),
    "band_prices": ("tariff_id", "article_id", "band"),
    "price_lists": ("price_list_id", "article_id", "band"),
    "customer_prices": ("customer_id", "article_id", "band"),
    "promotions": ("tariff_id", "article_id", "band"),
    "special_prices": ("contract_id", "kind", "number", "number_to", "article_id", "band"),
    "volume_tiers": ("tariff_id", "article_id", "from_quantity"),
    "free_quantities": ("tariff_id", "article_id"),
    "flat_prices": ("tariff_id", "article_id"),
    "area_codes": ("country_code", "area_code"),
    "vat_overrides": ("article_id", "tariff_id"),
}

#: Tables whose rows are valid between `valid_from` and `valid_until`.
DATED = ("band_prices", "price_lists", "customer_prices", "promotions", "special_prices", "vat_overrides")

#: The cost-control report (`rating cost-control --period P`): one row per contract and rule
#: (`flat_price` per flat article, `fixed_price` per variable_fixed position and tariff,
#: `cost_cap` per tariff) that needs attention; `position_id` only on `fixed_price` rows.
COST_CONTROL = {
    "period": pl.String,
    "contract_id": pl.String,
    "customer_id": pl.String,
    "tariff_id": pl.String,
    "rule": pl.String,
    "article_id": pl.String,
    "position_id": pl.String,
    "quantity": pl.Int64,
    "usage_value": pl.Decimal(18, 2),
    "limit_amount": pl.Decimal(18, 2),
    "excess": pl.Decimal(18, 2),
    "excess_pct": pl.Decimal(18, 2),
    "tolerance_pct": PERCENT,
    "status": pl.String,
    "currency": pl.String,
}
