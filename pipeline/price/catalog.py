"""The pricing catalog: price lists, customer prices, promotions, special prices, tiers, free
quantities, flat prices, time bands, area codes, VAT overrides and tariff rules (schemas/pricing.py).

Loaded like the billing catalog (pipeline/catalog/billing.py): every file optional, every
problem reported at once with file, line, column, value and rule (CatalogError). A run
gets the pricing tables through its catalog: `with_pricing(catalog, pricing)` returns a
Catalog that also carries them, and `pricing_of(catalog)` finds them again (empty when the
catalog has none), so pipeline.job.rate needs no new argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from dataclasses import dataclass, field, fields

import duckdb
import holidays
import polars as pl

import sql
from pipeline.catalog import Catalog
from pipeline.catalog.tables import TableSet
from pipeline.catalog.validation import (
    ERRORS_SCHEMA,
    CatalogError,
    RawTable,
    checkable,
    core_rows,
    empty_table,
    files_of,
    key_errors,
    reference_errors,
    rule_errors,
    typed_tables,
)
from schemas.pricing import CATALOG_TABLES, DATED, DEFAULTS, KEYS, REFERENCES


@dataclass(frozen=True)
class PricingCatalog(TableSet):
    """Validated, typed pricing tables (Polars), one attribute per pricing catalog file."""

    PREFIX: ClassVar[str] = "pr"

    tariff_pricing: pl.DataFrame
    tariff_articles: pl.DataFrame
    band_prices: pl.DataFrame
    price_lists: pl.DataFrame
    customer_prices: pl.DataFrame
    promotions: pl.DataFrame
    special_prices: pl.DataFrame
    volume_tiers: pl.DataFrame
    free_quantities: pl.DataFrame
    flat_prices: pl.DataFrame
    time_bands: pl.DataFrame
    area_codes: pl.DataFrame
    vat_overrides: pl.DataFrame

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Every table as `pr_<table>`, and the macro vat_rate_of over `pr_vat_overrides`
        (sql/duck/vat_rate.sql): DuckDB binds a macro's tables when it is created."""
        super().register(con)
        con.execute(sql.load("duck/vat_rate"))



@dataclass(frozen=True)
class PricedCatalog(Catalog):
    """A core catalog that also carries its pricing tables."""

    pricing: PricingCatalog = field(default_factory=lambda: empty_pricing())

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        super().register(con)
        self.pricing.register(con)


def with_pricing(catalog: Catalog, pricing: PricingCatalog) -> PricedCatalog:
    """`catalog` carrying `pricing`, for pipeline.job.rate."""
    core = {f.name: getattr(catalog, f.name) for f in fields(Catalog)}
    return PricedCatalog(**core, pricing=pricing)


def pricing_of(catalog: Catalog) -> PricingCatalog:
    """The pricing tables a catalog carries; empty ones (no pricing rule applies) for a plain Catalog."""
    return getattr(catalog, "pricing", None) or empty_pricing()


def empty_pricing() -> PricingCatalog:
    """No pricing files: base prices only."""
    return PricingCatalog(**{name: empty_table(model).drop("_line") for name, model in CATALOG_TABLES.items()})


def validated_pricing(raw: Mapping[str, RawTable], catalog: Catalog | None) -> PricingCatalog:
    """Typed and validated pricing tables; raises CatalogError naming every bad cell.

    Args:
        raw: the pricing files found (any may be missing).
        catalog: the validated core catalog they refer to (None: no references checked).
    """
    typed, problems = typed_tables(raw, CATALOG_TABLES, DEFAULTS)
    files = files_of(raw, list(CATALOG_TABLES))
    # the rules across rows check the rows without bad cells (the others are reported once fixed);
    # a bad cell is null, so it refers to nothing and the references check every row
    problems.append(row_errors(checkable(typed, pl.concat(problems), files), files, catalog, whole=typed))
    if catalog is not None:
        core = {"tariffs": catalog.tariffs, "articles": catalog.articles, "customers": catalog.customers,
                "contracts": catalog.contracts}
        problems.append(reference_errors({**core, **typed}, files, REFERENCES))
        problems.append(_zone_errors(catalog, typed["tariff_pricing"]))
    found = pl.concat(problems)
    if found.height:
        raise CatalogError(found)
    return PricingCatalog(**{name: frame.drop("_line") for name, frame in typed.items()})


def row_errors(
    t: dict[str, pl.DataFrame], files: dict[str, str], catalog: Catalog | None, whole: dict[str, pl.DataFrame] | None = None
) -> pl.DataFrame:
    """Rules across columns and rows of the pricing tables (tables typed, with `_line`).

    Args:
        t: the rows to check.
        whole: every row, bad cells too (default `t`): what a row may refer to (a band, the first tier).
    """
    whole = t if whole is None else whole
    col = pl.col
    found = key_errors(t, files, KEYS, DATED)
    tp = t["tariff_pricing"]
    found.append(rule_errors(tp, files["tariff_pricing"], "min_revenue", col("min_revenue") > col("cost_cap"),
                             "min_revenue must not exceed cost_cap"))
    supported = holidays.list_supported_countries()
    found.append(rule_errors(tp, files["tariff_pricing"], "holiday_country", ~col("holiday_country").is_in(list(supported)),
                             "not a country the holidays package knows"))
    calendar = pl.concat_str("holiday_country", "holiday_subdiv", separator="/")
    known = _subdivisions(supported, tp.get_column("holiday_country").drop_nulls().unique().to_list())
    found.append(rule_errors(tp, files["tariff_pricing"], "holiday_subdiv",
                             col("holiday_country").is_in(list(supported)) & calendar.is_not_null() & ~calendar.is_in(known),
                             "not a subdivision of holiday_country the holidays package knows"))
    found.append(rule_errors(tp, files["tariff_pricing"], "holiday_subdiv",
                             col("holiday_subdiv").is_not_null() & col("holiday_country").is_null(),
                             "holiday_subdiv needs a holiday_country"))
    sp = t["special_prices"]
    found.append(rule_errors(sp, files["special_prices"], "number_to", (col("kind") == "friends") & col("number_to").is_not_null(),
                             "friends are single numbers: number_to applies to kind net only"))
    found.append(rule_errors(sp, files["special_prices"], "number_to",
                             col("number_to").str.len_bytes() != col("number").str.len_bytes(),
                             "number and number_to of a range must have the same length"))
    found.append(rule_errors(sp, files["special_prices"], "number_to", col("number_to") < col("number"),
                             "number_to must not be before number"))
    found += _tier_errors(t, files, catalog, whole["volume_tiers"])
    found += _band_errors(t, files, whole["time_bands"], whole["tariff_pricing"])
    found.append(_area_errors(t["area_codes"], files["area_codes"]))
    return pl.concat([f.cast(ERRORS_SCHEMA) for f in found])


def zone_ids(catalog: Catalog, tariff_pricing: pl.DataFrame) -> pl.Series:
    """Every zone a record can land in, with repeats: prefix zones, catch-all zones, local-call zones."""
    local = tariff_pricing.get_column("local_zone").drop_nulls()
    return pl.concat([catalog.zones.get_column("zone_id"), catalog.tariffs.get_column("catchall_zone").drop_nulls(), local])


def _zone_errors(catalog: Catalog, tariff_pricing: pl.DataFrame) -> pl.DataFrame:
    """An article_keys.csv zone no record can land in: a typo would bill the zone's calls as the
    key's row for every zone (fixed-line calls as mobile), or leave them unrateable."""
    keys, file = core_rows(catalog, "article_keys")
    unknown = ~pl.col("zone_id").is_in(zone_ids(catalog, tariff_pricing).unique().implode())
    return rule_errors(keys, file, "zone_id", pl.col("zone_id").is_not_null() & unknown,
                       "must exist in zones.zone_id (or be a tariffs.catchall_zone or tariff_pricing.local_zone)")


def _tier_errors(
    t: dict[str, pl.DataFrame], files: dict[str, str], catalog: Catalog | None, every_tier: pl.DataFrame
) -> list[pl.DataFrame]:
    col = pl.col
    tiers, file = t["volume_tiers"], files["volume_tiers"]
    key = ["tariff_id", "article_id"]
    first = every_tier.group_by(key).agg(col("from_quantity").min().alias("_first"))
    found = [
        rule_errors(tiers, file, "method", col("method").n_unique().over(key) > 1,
                    "all tiers of one tariff and article use the same method"),
        rule_errors(tiers.join(first, on=key, how="left"), file, "from_quantity", col("_first") > 0,
                    "the first tier of a tariff and article must start at from_quantity 0"),
        rule_errors(tiers.join(t["band_prices"].select(key).unique(), on=key, how="semi"), files["band_prices"], "tariff_id",
                    pl.lit(True), "an article with volume tiers cannot also have band prices (tiers are its tariff price)"),
    ]
    if catalog is not None:
        both = tiers.join(catalog.prices.select(key).unique(), on=key, how="semi")
        found.append(rule_errors(both, file, "article_id", pl.lit(True),
                                 "also has a base price in prices.csv; tiers replace the tariff's base price, remove one of them"))
    return found


def _band_errors(
    t: dict[str, pl.DataFrame], files: dict[str, str], every_band: pl.DataFrame, every_tariff: pl.DataFrame
) -> list[pl.DataFrame]:
    """Band names must be defined in time_bands (`every_band`, its rows with bad cells too); one
    tariff's bands must not overlap in time; holiday bands need the tariff's holiday calendar
    (`every_tariff`: tariff_pricing's rows), without which no day is a holiday."""
    col = pl.col
    bands = t["time_bands"]
    known = every_band.select("band").unique()
    found = []
    for name in ("band_prices", "price_lists", "customer_prices", "promotions", "special_prices"):
        unknown = t[name].filter(col("band").is_not_null()).join(known, on="band", how="anti")
        found.append(rule_errors(unknown, files[name], "band", pl.lit(True), "band is not defined in time_bands.csv"))
    tariff_bands = every_band.select("tariff_id", "band").unique()
    unknown = t["band_prices"].join(tariff_bands, on=["tariff_id", "band"], how="anti")
    found.append(rule_errors(unknown, files["band_prices"], "band", pl.lit(True), "the tariff has no such band in time_bands.csv"))
    minutes = band_minutes(bands)
    found.append(rule_errors(bands, files["time_bands"], "until_time",
                             _minute(col("until_time")) <= _minute(col("from_time")), "until_time must be after from_time"))
    calendars = every_tariff.filter(col("holiday_country").is_not_null()).select("tariff_id")
    on_holidays = bands.filter(col("days").str.contains("holiday", literal=True)).join(calendars, on="tariff_id", how="anti")
    found.append(rule_errors(on_holidays, files["time_bands"], "days", pl.lit(True),
                             "holiday bands need the tariff's holiday_country in tariff_pricing.csv: without it no day is a holiday"))
    clash = minutes.filter(pl.len().over("tariff_id", "day", "minute") > 1).select("_line").unique()
    found.append(rule_errors(bands.join(clash, on="_line", how="semi"), files["time_bands"], "from_time", pl.lit(True),
                             "overlaps another band of the tariff on the same day and time"))
    return found


def _area_errors(areas: pl.DataFrame, file: str) -> pl.DataFrame:
    """Area codes must be prefix-free: no code may start another one (the local-call test relies on it)."""
    prefixes = areas.with_columns((pl.col("country_code") + pl.col("area_code")).alias("_p"))
    shorter = pl.concat(
        [prefixes.select("_line", pl.col("_p").str.slice(0, n).alias("_q")).filter(pl.col("_q").str.len_bytes() == n)
         for n in range(1, 15)]
    ).join(prefixes.select(pl.col("_p").alias("_q")), on="_q", how="semi")
    shorter = shorter.join(prefixes.select("_line", "_p"), on="_line").filter(pl.col("_q") != pl.col("_p"))
    return rule_errors(areas.join(shorter.select("_line").unique(), on="_line", how="semi"), file, "area_code", pl.lit(True),
                       "another area code is a prefix of this one; area codes must be prefix-free")


def _subdivisions(supported: dict[str, list[str]], countries: list[str]) -> list[str]:
    """`country/subdivision` of every subdivision of `countries` the holidays package knows, by
    its code or by a name it accepts for it (`DE/BY`, `DE/Bayern`)."""
    known = [c for c in countries if c in supported]
    return [f"{c}/{s}" for c in known for s in [*supported[c], *holidays.country_holidays(c).subdivisions_aliases]]


_DAY_NO = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"))}


def _minute(clock: pl.Expr) -> pl.Expr:
    return clock.str.slice(0, 2).cast(pl.Int32) * 60 + clock.str.slice(3, 2).cast(pl.Int32)


def band_minutes(bands: pl.DataFrame) -> pl.DataFrame:
    """Every (tariff_id, day 0–7, minute 0–1439) a band covers, with the band and its `_line` if any.

    Day 0 is Monday, 7 a public holiday. `mon-fri` expands to days 0–4; a range may run over
    the weekend into the next week: `fri-mon` is days 4, 5, 6 and 0.
    """
    has_line = "_line" in bands.columns
    parts = bands.with_columns(pl.col("days").str.split(",").alias("_part")).explode("_part").with_columns(
        pl.col("_part").str.split_exact("-", 1).struct.rename_fields(["_from", "_to"])
    ).unnest("_part")
    lo = pl.col("_from").replace_strict(_DAY_NO, return_dtype=pl.Int32)
    hi = pl.coalesce("_to", "_from").replace_strict(_DAY_NO, return_dtype=pl.Int32)
    wraps = hi < lo
    days = (
        parts.with_columns(pl.int_ranges(lo, pl.when(wraps).then(hi + 8).otherwise(hi + 1)).alias("day"), wraps.alias("_wraps"))
        .explode("day")
        .with_columns(pl.when(pl.col("_wraps")).then(pl.col("day") % 7).otherwise(pl.col("day")).alias("day"))
        .drop("_wraps")
    )
    span = days.with_columns(pl.int_ranges(_minute(pl.col("from_time")), _minute(pl.col("until_time"))).alias("minute"))
    return span.explode("minute").filter(pl.col("minute").is_not_null()).select(
        "tariff_id", "band", pl.col("day").cast(pl.Int32), pl.col("minute").cast(pl.Int32), *(["_line"] if has_line else [])
    )
