"""Cancellation: the end date a notice leads to under the tariff's (or the article's own) rules.

The date rules are in sql/duck/lifecycle/cancellation.sql and docs/billing.md; this module
finds the rules that apply to a module and its positions and turns the result into the
module's and positions' new end dates.
"""

from __future__ import annotations

from datetime import date

import polars as pl

import sql
from pipeline import engine
from pipeline.bill.queries import load_macros
from pipeline.catalog import Catalog
from pipeline.catalog.billing import BillingCatalog
from pipeline.lifecycle.audit import Actor, Change, LifecycleError, require_manager

#: What cancellation_dates takes: one notice per row.
REQUEST_SCHEMA = {
    "id": pl.String,
    "rule": pl.String,
    "ordered_on": pl.Date,
    "term_months": pl.Int64,
    "notice_months": pl.Int64,
    "notice_on": pl.Date,
}


def cancellation_dates(requests: pl.DataFrame) -> pl.DataFrame:
    """For each notice (REQUEST_SCHEMA): end_date, last_notice_day, current_term_end, renewed.

    >>> r = pl.DataFrame({"id": ["a"], "rule": ["monthly"], "ordered_on": [date(2026, 1, 1)],
    ...     "term_months": [None], "notice_months": [1], "notice_on": [date(2026, 6, 1)]}, schema=REQUEST_SCHEMA)
    >>> cancellation_dates(r)["end_date"].to_list()
    [datetime.date(2026, 7, 31)]
    """
    con = engine.connect(threads=1)
    try:
        load_macros(con)
        con.register("cancel_requests", requests.select(list(REQUEST_SCHEMA)).cast(REQUEST_SCHEMA).to_arrow())
        return con.sql(sql.load("duck/lifecycle/cancellation")).pl()
    finally:
        con.close()


def module_terms(catalog: Catalog, billing: BillingCatalog, contract_id: str, module_id: str, on: date) -> pl.DataFrame:
    """The module (one row) with the tariff it runs under on `on` and that tariff's rules."""
    module = billing.modules.filter((pl.col("module_id") == module_id) & (pl.col("contract_id") == contract_id))
    if module.height == 0:
        raise LifecycleError(f"module {module_id!r} is not a module of contract {contract_id!r} (modules.csv)")
    versions = billing.module_tariffs.filter(
        (pl.col("module_id") == module_id)
        & (pl.col("valid_from") <= on)
        & (pl.col("valid_until").is_null() | (pl.col("valid_until") > on))
    ).select("module_id", pl.col("tariff_id").alias("_module_tariff"))
    contract = catalog.contracts.select("contract_id", pl.col("tariff_id").alias("_contract_tariff"))
    module = (
        module.join(contract, on="contract_id")
        .join(versions, on="module_id", how="left")
        .with_columns(pl.coalesce("_module_tariff", "_contract_tariff").alias("tariff_id"))
        .drop("_module_tariff", "_contract_tariff")
        .join(billing.tariff_terms, on="tariff_id", how="left")
    )
    if module["cancellation"].is_null().any():
        raise LifecycleError(
            f"tariff {module['tariff_id'][0]!r} of module {module_id!r} has no cancellation rules: add a row to tariff_terms.csv"
        )
    return module


def module_cancellation(
    catalog: Catalog,
    billing: BillingCatalog,
    contract_id: str,
    module_id: str,
    notice_on: date,
    actor: Actor,
    end: date | None = None,
) -> Change:
    """Cancel a module on `notice_on`: it ends by its tariff's rules; positions whose article has
    its own notice end by theirs. A deviating `end` (for all of them) is for a Manager only.

    Result: one row per module/position cancelled with its rule, end_date and last_notice_day.
    """
    module = module_terms(catalog, billing, contract_id, module_id, notice_on)
    if end is not None:
        require_manager(actor, "a cancellation date that deviates from the notice rules")
    own = billing.positions.filter(pl.col("module_id") == module_id).join(
        billing.article_terms.filter(pl.col("cancellation").is_not_null()), on="article_id", how="inner"
    )
    tariff = module.row(0, named=True)
    requests = pl.concat(
        [
            module.select(
                pl.col("module_id").alias("id"), pl.col("cancellation").alias("rule"), "ordered_on", "term_months",
                "notice_months", pl.lit(notice_on).alias("notice_on"),
            ),
            own.select(
                pl.col("position_id").alias("id"),
                pl.col("cancellation").alias("rule"),
                pl.coalesce("start_date", pl.lit(tariff["ordered_on"])).alias("ordered_on"),
                pl.coalesce("term_months", pl.lit(tariff["term_months"], pl.Int64)).alias("term_months"),
                pl.coalesce("notice_months", pl.lit(tariff["notice_months"], pl.Int64)).alias("notice_months"),
                pl.lit(notice_on).alias("notice_on"),
            ),
        ],
        how="vertical_relaxed",
    )
    dates = cancellation_dates(requests)
    if end is not None:
        dates = dates.with_columns(pl.lit(end).alias("end_date"), pl.lit("deviating (Manager)").alias("rule"))
    module_end = dates.filter(pl.col("id") == module_id)["end_date"][0]
    ends = dates.select(pl.col("id").alias("position_id"), pl.col("end_date").alias("_own_end"))
    positions = billing.positions.join(ends, on="position_id", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("module_id") == module_id)
        .then(pl.min_horizontal("end_date", pl.coalesce("_own_end", pl.lit(module_end))))
        .otherwise(pl.col("end_date"))
        .alias("end_date")
    ).drop("_own_end")
    modules = billing.modules.with_columns(
        pl.when(pl.col("module_id") == module_id).then(pl.lit(notice_on)).otherwise(pl.col("cancelled_on")).alias("cancelled_on"),
        pl.when(pl.col("module_id") == module_id).then(pl.lit(module_end)).otherwise(pl.col("end_date")).alias("end_date"),
    )
    result = dates.select("id", "rule", "notice_on", "end_date", "last_notice_day", "renewed")
    return Change({"modules": (billing.modules, modules), "positions": (billing.positions, positions)}, result)
