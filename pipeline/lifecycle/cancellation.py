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
from pipeline.lifecycle.audit import Actor, Change, LifecycleError, UnknownId, require_manager

#: The notice of a rule (DOMAIN §5) when an article's own rule gives no notice_months.
STANDARD_NOTICE = {"none": 0, "monthly": 1, "yearly": 3}

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
        raise UnknownId(f"module {module_id!r} is not a module of contract {contract_id!r} (modules.csv)")
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
    its own notice end by theirs (earlier or later than the module); the others end with the
    module. A position that would end before it starts is cancelled before it started: its end
    date becomes the day before its start (never billed). A deviating `end` (for all of them) is
    for a Manager only. A module or position that already ends earlier keeps its end date (a
    second notice never prolongs a cancelled module).

    Result: one row for the module, then one per position of the module, with its rule, stored
    end_date, last_notice_day, renewed and a note saying why it ends then.
    """
    module = module_terms(catalog, billing, contract_id, module_id, notice_on)
    if end is not None:
        require_manager(actor, "a cancellation date that deviates from the notice rules")
    mine = billing.positions.filter(pl.col("module_id") == module_id)
    own = mine.join(billing.article_terms.filter(pl.col("cancellation").is_not_null()), on="article_id", how="inner")
    ordered_on = module["ordered_on"][0]
    requests = pl.concat(
        [
            module.select(
                pl.col("module_id").alias("id"), pl.col("cancellation").alias("rule"), "ordered_on", "term_months",
                "notice_months", pl.lit(notice_on).alias("notice_on"),
            ),
            # An article's own notice uses its own terms only: no term of its own, no minimum term.
            own.select(
                pl.col("position_id").alias("id"),
                pl.col("cancellation").alias("rule"),
                pl.coalesce("start_date", pl.lit(ordered_on)).alias("ordered_on"),
                "term_months",
                pl.coalesce("notice_months", pl.col("cancellation").replace_strict(STANDARD_NOTICE, return_dtype=pl.Int64))
                .alias("notice_months"),
                pl.lit(notice_on).alias("notice_on"),
            ),
        ],
        how="vertical_relaxed",
    )
    dates = cancellation_dates(requests)
    if end is not None:
        dates = dates.with_columns(pl.lit(end).alias("end_date"), pl.lit("deviating (Manager)").alias("rule"))
    module_row = dates.filter(pl.col("id") == module_id)
    # a module cancelled before keeps its earlier end (and notice day), as its positions do
    before = billing.modules.filter(pl.col("module_id") == module_id).select("cancelled_on", "end_date").row(0)
    earlier = before[1] is not None and before[1] <= module_row["end_date"][0]
    if earlier:
        module_row = module_row.with_columns(pl.lit(before[1]).alias("end_date"))
    module_end = module_row["end_date"][0]
    ends = mine.join(
        dates.select(
            pl.col("id").alias("position_id"), pl.col("rule").alias("_own_rule"), pl.col("end_date").alias("_own_end"),
            "last_notice_day", "renewed",
        ),
        on="position_id", how="left", maintain_order="left",
    ).with_columns(pl.coalesce("_own_end", pl.lit(module_end)).alias("_due"))
    kept = pl.min_horizontal("end_date", "_due")
    ends = ends.with_columns(
        pl.max_horizontal(kept, pl.col("start_date").dt.offset_by("-1d")).alias("_new_end"),
        pl.when(pl.col("start_date").is_not_null() & (kept < pl.col("start_date")))
        .then(pl.format("cancelled before it started (starts {}): never billed", "start_date"))
        .when(pl.col("end_date") < pl.col("_due"))
        .then(pl.lit("keeps its earlier end date"))
        .when(pl.col("_own_rule").is_not_null() & pl.lit(end is None))
        .then(pl.lit("own notice of its article"))
        .otherwise(pl.format("ends with module {}", pl.lit(module_id)))
        .alias("note"),
    )
    positions = billing.positions.join(
        ends.select("position_id", "_new_end"), on="position_id", how="left", maintain_order="left"
    ).with_columns(pl.coalesce("_new_end", "end_date").alias("end_date")).drop("_new_end")
    cancelled_on = before[0] if earlier and before[0] is not None else notice_on
    modules = billing.modules.with_columns(
        pl.when(pl.col("module_id") == module_id).then(pl.lit(cancelled_on)).otherwise(pl.col("cancelled_on")).alias("cancelled_on"),
        pl.when(pl.col("module_id") == module_id).then(pl.lit(module_end)).otherwise(pl.col("end_date")).alias("end_date"),
    )
    result = pl.concat(
        [
            module_row.select(
                "id", "rule", "notice_on", "end_date", "last_notice_day", "renewed",
                pl.lit("keeps its earlier end date" if earlier else None, pl.String).alias("note"),
            ),
            ends.select(
                pl.col("position_id").alias("id"),
                pl.coalesce("_own_rule", pl.lit(module_row["rule"][0])).alias("rule"),
                pl.lit(notice_on).alias("notice_on"),
                pl.col("_new_end").alias("end_date"),
                pl.coalesce("last_notice_day", pl.lit(module_row["last_notice_day"][0])).alias("last_notice_day"),
                pl.coalesce("renewed", pl.lit(module_row["renewed"][0])).alias("renewed"),
                "note",
            ),
        ]
    )
    return Change({"modules": (billing.modules, modules), "positions": (billing.positions, positions)}, result)
