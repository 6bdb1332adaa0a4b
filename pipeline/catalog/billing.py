"""The billing catalog: contract terms, modules, positions and their prices, pauses, addresses, …

`validated_billing` types and validates the raw billing tables against the (already valid)
core catalog, or raises CatalogError listing every problem with file, line, column, value
and rule, like the core catalog. Every billing file is optional (docs/billing.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from pipeline.catalog import USAGE_TARIFFS, Catalog
from pipeline.catalog.tables import TableSet
from pipeline.catalog.validation import (
    ERRORS_SCHEMA,
    CatalogError,
    RawTable,
    checkable,
    errors,
    files_of,
    overlap_errors,
    reference_errors,
    rule_errors,
    typed_tables,
)
from schemas.billing import CATALOG_TABLES, DEFAULTS, INTERVALS, REFERENCES, SETTINGS_FALLBACK

#: Backdating limit (DOMAIN §2): a contract may start at most this long before it was entered.
MAX_BACKDATING = "2y"


@dataclass(frozen=True)
class BillingCatalog(TableSet):
    """Validated, typed billing tables (Polars), one attribute per billing catalog file."""

    PREFIX: ClassVar[str] = "bil"

    billing_settings: pl.DataFrame
    contract_terms: pl.DataFrame
    tariff_terms: pl.DataFrame
    article_terms: pl.DataFrame
    modules: pl.DataFrame
    module_tariffs: pl.DataFrame
    positions: pl.DataFrame
    position_prices: pl.DataFrame
    pauses: pl.DataFrame
    addresses: pl.DataFrame
    recipients: pl.DataFrame
    users: pl.DataFrame

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make every table queryable on `con` as `bil_<table>`, plus `bil_intervals`."""
        super().register(con)
        con.register("bil_intervals", intervals().to_arrow())


def intervals() -> pl.DataFrame:
    """schemas.billing.INTERVALS as a table: interval, months, times, unit, bills."""
    names = list(INTERVALS)
    months, times, units, bills = zip(*INTERVALS.values())
    return pl.DataFrame(
        {"interval": names, "months": list(months), "times": list(times), "unit": list(units), "bills": list(bills)},
        schema={"interval": pl.String, "months": pl.Int64, "times": pl.Int64, "unit": pl.String, "bills": pl.Boolean},
    )


def empty_billing() -> BillingCatalog:
    """A billing catalog with no billing files: usage only, general settings as defaulted."""
    return validated_billing({}, None)


def validated_billing(raw: Mapping[str, RawTable], catalog: Catalog | None) -> BillingCatalog:
    """Typed and validated billing tables; raises CatalogError naming every bad cell.

    Args:
        raw: the billing files found (any may be missing).
        catalog: the validated core catalog the billing tables refer to (None: no references checked).
    """
    typed, problems = typed_tables(raw, CATALOG_TABLES, DEFAULTS)
    files = files_of(raw, list(CATALOG_TABLES))
    # as the pricing tables: the rules across rows check the rows without bad cells (the others are
    # reported once fixed), so every problem is listed at once; a bad cell is null and refers to nothing
    checked = checkable(typed, pl.concat(problems), files)
    settings = typed["billing_settings"].height if "billing_settings" in raw else None
    problems.append(_row_errors(checked, files, catalog, settings_rows=settings))
    if catalog is not None:
        core = {"contracts": catalog.contracts, "tariffs": catalog.tariffs, "articles": catalog.articles}
        problems.append(reference_errors({**core, **typed}, files, REFERENCES))
    found = pl.concat(problems)
    if found.height:
        raise CatalogError(found)
    typed["billing_settings"] = _settings(typed["billing_settings"], "billing_settings" in raw)
    return BillingCatalog(**{name: frame.drop("_line") for name, frame in typed.items()})


def usage_tariffs(contracts: pl.DataFrame, modules: pl.DataFrame, module_tariffs: pl.DataFrame) -> pl.DataFrame:
    """When each contract's usage is rated with another tariff than its own (pipeline.catalog.USAGE_TARIFFS).

    Usage records carry no module, so one module per contract decides: its **usage module**, the
    module whose module_tariffs history holds the contract's own tariff (contracts.tariff_id),
    the earliest ordered (then lowest module_id) of several. Its versions with another tariff
    are the timeline; everywhere else (no such module, before its first version, after its
    last, gaps) usage is rated with contracts.tariff_id. docs/billing.md, "Tariff change".
    """
    own = contracts.select("contract_id", pl.col("tariff_id").alias("_own"))
    versions = module_tariffs.join(modules.select("module_id", "contract_id", "ordered_on"), on="module_id").join(own, on="contract_id")
    usage_module = (
        versions.filter(pl.col("tariff_id") == pl.col("_own"))
        .sort("contract_id", "ordered_on", "module_id")
        .unique("contract_id", keep="first")
        .select("contract_id", "module_id")
    )
    changed = versions.join(usage_module, on=["contract_id", "module_id"]).filter(pl.col("tariff_id") != pl.col("_own"))
    return changed.select(list(USAGE_TARIFFS)).cast(USAGE_TARIFFS).sort("contract_id", "valid_from")


def with_usage_tariffs(catalog: Catalog, billing: BillingCatalog) -> Catalog:
    """`catalog` carrying the usage-tariff timeline of `billing`'s modules (what pipeline.job.rate prices with)."""
    return replace(catalog, usage_tariffs=usage_tariffs(catalog.contracts, billing.modules, billing.module_tariffs))


def _settings(frame: pl.DataFrame, given: bool) -> pl.DataFrame:
    """The one settings row: the file's (empty notes filled in) or the fallback."""
    if not given:
        frame = pl.DataFrame({"_line": [0], **{k: [v] for k, v in SETTINGS_FALLBACK.items()}}, schema=frame.schema)
    return frame.with_columns(
        pl.col(c).fill_null(pl.lit(SETTINGS_FALLBACK[c])) for c in ("reverse_charge_note", "exempt_note")
    )


def _row_errors(t: dict[str, pl.DataFrame], files: dict[str, str], catalog: Catalog | None, settings_rows: int | None) -> pl.DataFrame:
    """Rules across columns and rows of the billing tables (`settings_rows`: billing_settings.csv's
    rows, bad ones too; None without the file)."""
    col = pl.col
    pos, prices = t["positions"], t["position_prices"]
    recurring = col("billing_type") == "recurring"
    found = [
        errors([(files["billing_settings"], 2, "*", str(settings_rows), "billing_settings must have exactly one row")])
        if settings_rows is not None and settings_rows != 1
        else pl.DataFrame(schema=ERRORS_SCHEMA),
        rule_errors(
            t["billing_settings"], files["billing_settings"], "test_sequence_id",
            col("test_sequence_id") == col("sequence_id"), "test invoices need their own sequence",
        ),
        rule_errors(
            t["contract_terms"].join(t["billing_settings"].select("test_sequence_id"), how="cross"),
            files["contract_terms"], "sequence_id", col("sequence_id") == col("test_sequence_id"),
            "the test sequence is reserved for test accounts",
        ),
        rule_errors(pos, files["positions"], "interval", recurring & col("interval").is_null(),
                    "interval is required for billing type recurring"),
        rule_errors(pos, files["positions"], "interval", ~recurring & col("interval").is_not_null(),
                    "interval applies to billing type recurring only"),
        rule_errors(pos, files["positions"], "every_months",
                    (col("interval") == "every_n_months") != col("every_months").is_not_null(),
                    "every_months is required for interval every_n_months, and only there"),
        rule_errors(pos, files["positions"], "end_date", col("end_date") < col("start_date").dt.offset_by("-1d"),
                    "end_date must not be before start_date (the day before start_date marks a position "
                    "cancelled before it started)"),
        rule_errors(
            pos.join(t["modules"].select("module_id", col("contract_id").alias("_m_contract")), on="module_id"),
            files["positions"], "module_id", col("_m_contract") != col("contract_id"),
            "module must belong to the position's contract",
        ),
        rule_errors(prices, files["position_prices"], "reason",
                    (col("kind") == "override") & col("reason").is_null(), "a price override needs a reason"),
        rule_errors(prices, files["position_prices"], "valid_until", col("valid_until") <= col("valid_from"),
                    "valid_until must be after valid_from"),
        rule_errors(
            prices.with_columns((col("kind") == "override").alias("_override")),
            files["position_prices"], "valid_from",
            pl.struct("position_id", "_override", "valid_from").is_duplicated(),
            "two price versions of one position start the same day",
        ),
        rule_errors(t["module_tariffs"], files["module_tariffs"], "valid_until", col("valid_until") <= col("valid_from"),
                    "valid_until must be after valid_from"),
        overlap_errors(t["module_tariffs"], files["module_tariffs"], ["module_id"], "valid_from", "valid_until", False),
        rule_errors(t["modules"], files["modules"], "end_date", col("end_date") < col("ordered_on"),
                    "end_date must not be before ordered_on"),
        rule_errors(t["pauses"], files["pauses"], "paused_through", col("paused_through") < col("paused_from"),
                    "paused_through must not be before paused_from"),
        overlap_errors(t["pauses"], files["pauses"], ["contract_id"], "paused_from", "paused_through", True),
        rule_errors(t["addresses"], files["addresses"], "valid_from",
                    pl.struct("contract_id", "valid_from").is_duplicated(),
                    "two addresses of one contract start the same day"),
        rule_errors(t["recipients"], files["recipients"], "email", pl.struct("contract_id", "email").is_duplicated(),
                    "recipient listed twice for the contract"),
        rule_errors(t["tariff_terms"], files["tariff_terms"], "term_months",
                    (col("cancellation") == "yearly") & col("term_months").is_null(),
                    "yearly cancellation needs a minimum term (term_months)"),
        rule_errors(t["article_terms"], files["article_terms"], "term_months",
                    (col("cancellation") == "yearly") & col("term_months").is_null(),
                    "yearly cancellation needs a minimum term (term_months)"),
    ]
    if catalog is not None:
        found += _backdating_errors(t["contract_terms"], catalog.contracts, files["contract_terms"])
        found.append(_currency_errors(t["module_tariffs"], t["modules"], catalog, files["module_tariffs"]))
    return pl.concat([f.cast(ERRORS_SCHEMA) for f in found])


def _currency_errors(module_tariffs: pl.DataFrame, modules: pl.DataFrame, catalog: Catalog, file: str) -> pl.DataFrame:
    """A module runs under tariffs of its contract's currency only: a contract's invoice holds its
    fees and usage in one currency (the header's, its own tariff's)."""
    currency = catalog.tariffs.select("tariff_id", "currency")
    own = catalog.contracts.select("contract_id", "tariff_id").join(currency, on="tariff_id").select(
        "contract_id", pl.col("currency").alias("_own")
    )
    joined = (
        module_tariffs.join(modules.select("module_id", "contract_id"), on="module_id", how="left")
        .join(own, on="contract_id", how="left")
        .join(currency, on="tariff_id", how="left")
    )
    broken = pl.col("currency") != pl.col("_own")  # null (an unknown module or tariff, reported apart): not broken
    return joined.filter(broken.fill_null(False)).select(
        pl.lit(file).alias("file"),
        pl.col("_line").alias("line"),
        pl.lit("tariff_id").alias("column"),
        pl.col("tariff_id").alias("value"),
        pl.format("the tariff's currency ({}) differs from its contract's tariff's ({}): an invoice never mixes currencies",
                  "currency", "_own").alias("rule"),
    )


def _backdating_errors(terms: pl.DataFrame, contracts: pl.DataFrame, file: str) -> list[pl.DataFrame]:
    """A contract (and its billing-from) may start at most two years before it was entered."""
    joined = terms.join(contracts.select("contract_id", "start_date"), on="contract_id", how="left").with_columns(
        pl.col("entered_on").dt.offset_by(f"-{MAX_BACKDATING}").alias("_earliest")
    )
    rule = "backdated more than two years before entered_on; enter a later date or correct entered_on"
    return [
        rule_errors(joined.with_columns(pl.col("start_date").alias("contracts.start_date")), file,
                    "contracts.start_date", pl.col("start_date") < pl.col("_earliest"), rule),
        rule_errors(joined, file, "billing_from", pl.col("billing_from") < pl.col("_earliest"), rule),
    ]
