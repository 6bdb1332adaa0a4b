"""Pandera models of the catalog: the reference data the pipeline rates against.

One model per catalog file (`<table>.csv` in the catalog directory). Columns are
documented in docs/catalog.md. Dates are calendar dates; validity bounds are UTC
timestamps, `valid_from` inclusive and `valid_until` exclusive; empty means open.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

import duckdb
import polars as pl
import pandera.polars as pandera

import sql
from schemas.usage import ID_TYPES

MONEY = pl.Decimal(18, 6)
RATE = pl.Decimal(6, 4)
UTC = pl.Datetime(time_unit="us", time_zone="UTC")

VAT_TREATMENTS = ("normal", "reverse_charge", "exempt")
UNITS = ("second", "byte", "event")
#: E.164 digits without `+`: 1-15 digits, the first (a country code's) never 0.
E164_DIGITS = r"^[1-9][0-9]{0,14}$"
#: A country calling code: 1-3 digits, never starting with 0.
COUNTRY_CODE = r"^[1-9][0-9]{0,2}$"
#: ISO 4217 currency codes (list one, as of 2025, with the codes withdrawn since 2021 still
#: accepted: a catalog written before a change keeps loading). Tariff prices are in one of them.
CURRENCIES = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV
    MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
    SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN
    UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS
    XUA XXX YER ZAR ZMW ZWG ZWL
""".split())
#: The longest charging increment: a day (rated seconds stay far inside 64 bits).
MAX_INCREMENT_S = 86_400
#: Names of the zone database that are no zone: files of a system's database (zoneinfo lists
#: `localtime` where /usr/share/zoneinfo has one, and DuckDB stops on it: "Unknown TimeZone") and
#: `Factory`, the placeholder for "local time unknown".
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def time_zones() -> frozenset[str]:
    """The time zones a contract or a usage source may name: IANA names (the ones zoneinfo lists,
    from the `tzdata` package or the system) that DuckDB knows, whose zone data converts every
    local time (readers, bands, billing days; docs/formats.md). DuckDB (ICU) also knows names no
    IANA database has, such as `IST` or `SystemV/EST5`: they are refused too."""
    with duckdb.connect() as con:
        known = {name for (name,) in con.sql(sql.load("duck/time_zones")).fetchall()}
    return frozenset((known & available_timezones()) - NOT_ZONES)


class _Strict:
    strict = True
    coerce = False


class Customers(pandera.DataFrameModel):
    customer_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    name: str
    customer_number: str = pandera.Field(nullable=True)
    price_list_id: str = pandera.Field(nullable=True)
    vat_treatment: str = pandera.Field(isin=list(VAT_TREATMENTS))
    is_test: bool

    Config = _Strict


class Contracts(pandera.DataFrameModel):
    contract_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    customer_id: str
    tariff_id: str
    start_date: pl.Date
    end_date: pl.Date = pandera.Field(nullable=True)
    timezone: str

    @pandera.check("timezone", name="an IANA time zone name (e.g. Europe/Vienna)")
    def known_time_zone(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        """A name no engine knows would stop every run that rates or bills the contract."""
        return data.lazyframe.select(pl.col(data.key).is_in(sorted(time_zones())))

    @pandera.dataframe_check(name="end_date_not_before_start_date")
    def ends_after_start(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        end = pl.col("end_date")
        return data.lazyframe.select(end.is_null() | (end >= pl.col("start_date")))

    Config = _Strict


#: The rules DeviceIds checks beyond types. One contract per ID at a time is a rule across tables
#: (each row's validity is cut to its contract's days): pipeline.catalog checks it with
#: pipeline.assign.catalog.device_id_conflict_errors.
ID_VALUE_RULE = (
    "id_value is an ID of its id_type: phone E.164 digits (1-15, first 1-9, no + or 00); "
    "ipv4/ipv6 an address or CIDR block without host bits; mac 12 hex digits (: - . or none); string any text"
)
ID_TO_RULE = (
    "id_to is empty or an upper end of the same type not below id_value "
    "(phone: the same length; none for string IDs and CIDR blocks)"
)


class DeviceIds(pandera.DataFrameModel):
    """Which identifiers in usage records belong to which contract, and when (docs/assignment.md).

    A row without `id_to` is a single ID: a phone number matches itself and every longer
    number it heads; an IPv4/IPv6 address may be written as a CIDR block; a MAC address in
    any usual notation; a string ID matches exactly. A row with `id_to` is an inclusive
    range. One ID (the same type and value or range) belongs to one contract at a time, within
    the contracts' days: checked across tables by pipeline.catalog, not by this model.
    """

    contract_id: str
    id_type: str = pandera.Field(isin=list(ID_TYPES))
    id_value: str = pandera.Field(str_length={"min_value": 1})
    id_to: str = pandera.Field(nullable=True)
    valid_from: UTC = pandera.Field(nullable=True)
    valid_until: UTC = pandera.Field(nullable=True)

    @pandera.check("valid_until", name="valid_until after valid_from")
    def validity_ordered(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        lo, hi = pl.col("valid_from"), pl.col("valid_until")
        return data.lazyframe.select(lo.is_null() | hi.is_null() | (hi > lo))

    @pandera.check("id_value", name=ID_VALUE_RULE)
    def id_value_parses(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        from pipeline.assign.keys import id_intervals  # the key rules live with assignment

        known = pl.col("id_type").is_in(list(ID_TYPES))
        return id_intervals(data.lazyframe.collect()).lazy().select(~known | pl.col("value_ok"))

    @pandera.check("id_to", name=ID_TO_RULE)
    def id_to_fits(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        from pipeline.assign.keys import id_intervals

        return id_intervals(data.lazyframe.collect()).lazy().select(~pl.col("value_ok") | pl.col("to_ok"))

    class Config(_Strict):
        name = "device_ids"


class Tariffs(pandera.DataFrameModel):
    tariff_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    name: str
    currency: str
    first_increment_s: pl.Int64 = pandera.Field(ge=1, le=MAX_INCREMENT_S)
    next_increment_s: pl.Int64 = pandera.Field(ge=1, le=MAX_INCREMENT_S)
    vat_rate: RATE = pandera.Field(ge=0, le=1)
    catchall_zone: str = pandera.Field(nullable=True)

    @pandera.check("currency", name="an ISO 4217 currency code in capitals (EUR, CHF, USD, …)")
    def iso_currency(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        """Any three letters (XYZ, usd) would print on every invoice of the tariff."""
        return data.lazyframe.select(pl.col(data.key).is_in(sorted(CURRENCIES)))

    Config = _Strict


class Articles(pandera.DataFrameModel):
    article_id: str = pandera.Field(unique=True, str_length={"min_value": 1})
    name: str
    alt_name: str = pandera.Field(nullable=True)
    unit: str = pandera.Field(isin=list(UNITS))
    price_per: pl.Int64 = pandera.Field(ge=1)
    first_increment_s: pl.Int64 = pandera.Field(nullable=True, ge=1, le=MAX_INCREMENT_S)
    next_increment_s: pl.Int64 = pandera.Field(nullable=True, ge=1, le=MAX_INCREMENT_S)
    vat_rate: RATE = pandera.Field(nullable=True, ge=0, le=1)

    Config = _Strict


class Zones(pandera.DataFrameModel):
    prefix: str = pandera.Field(unique=True, str_matches=E164_DIGITS)
    zone_id: str
    zone_name: str

    Config = _Strict


class ArticleKeys(pandera.DataFrameModel):
    """Which article a usage record is billed as: by its article key and destination zone.

    A row with an empty `zone_id` applies to every zone not listed for that key.
    """

    article_key: str
    zone_id: str = pandera.Field(nullable=True)
    article_id: str

    Config = _Strict


class Prices(pandera.DataFrameModel):
    """A tariff's base price of an article, per `price_per` units of the article."""

    tariff_id: str
    article_id: str
    price: MONEY = pandera.Field(ge=0)
    valid_from: pl.Date = pandera.Field(nullable=True)
    valid_until: pl.Date = pandera.Field(nullable=True)

    Config = _Strict


#: Catalog tables in load order; each is read from `<name>.csv`.
TABLES: dict[str, type[pandera.DataFrameModel]] = {
    "customers": Customers,
    "contracts": Contracts,
    "device_ids": DeviceIds,
    "tariffs": Tariffs,
    "articles": Articles,
    "zones": Zones,
    "article_keys": ArticleKeys,
    "prices": Prices,
}

#: Optional columns with the value an absent column, or an empty cell of it, takes.
DEFAULTS: dict[str, dict[str, object]] = {
    "customers": {"customer_number": None, "price_list_id": None, "vat_treatment": "normal", "is_test": "false"},
    "contracts": {"end_date": None, "timezone": "UTC"},
    "device_ids": {"id_to": None, "valid_from": None, "valid_until": None},
    "tariffs": {"currency": "EUR", "catchall_zone": None},
    "articles": {"alt_name": None, "first_increment_s": None, "next_increment_s": None, "vat_rate": None},
    "prices": {"valid_from": None, "valid_until": None},
}

#: Tables whose rows are valid from `valid_from` to `valid_until` (dates), by the columns that
#: identify a row: two rows of one key must not overlap in time (one would win silently).
DATED: dict[str, tuple[str, ...]] = {"prices": ("tariff_id", "article_id")}

#: Columns that identify a row of an undated table: two rows with the same key are an error (one
#: would win silently; an empty cell is a value too).
KEYS: dict[str, tuple[str, ...]] = {"article_keys": ("article_key", "zone_id")}

#: (table, column) → (table, column) it must refer to.
REFERENCES: list[tuple[str, str, str, str]] = [
    ("contracts", "customer_id", "customers", "customer_id"),
    ("contracts", "tariff_id", "tariffs", "tariff_id"),
    ("device_ids", "contract_id", "contracts", "contract_id"),
    ("article_keys", "article_id", "articles", "article_id"),
    ("prices", "tariff_id", "tariffs", "tariff_id"),
    ("prices", "article_id", "articles", "article_id"),
]
