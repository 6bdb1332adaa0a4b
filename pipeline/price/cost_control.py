"""Cost control: flat prices, fixed prices and cost caps against the tariff's tolerance (DOMAIN §4).

`rating cost-control --period P` (pipeline/cli_pricing.py) reads the stored rated usage of
the period and prints this report; it also stores it as a table analysts can query. Fixed
prices (`variable_fixed` positions) are priced by billing's own queries (sql/duck/bill/
usage_aggregates.sql, position_prices.sql, usage_lines.sql), so the report's limit is what an
invoice would bill.
"""

from __future__ import annotations

import duckdb
import polars as pl

import sql
from pipeline.bill.queries import create_table, load_macros
from pipeline.bill.recurring import position_prices
from pipeline.catalog import Catalog
from pipeline.catalog.billing import BillingCatalog, empty_billing
from pipeline.price.catalog import pricing_of
from schemas.pricing import COST_CONTROL


def cost_control(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, period: str, billing: BillingCatalog | None = None
) -> pl.DataFrame:
    """Contracts whose flat-price usage, valued at the reference price, exceeds the flat price by more
    than the tolerance; `variable_fixed` positions whose usage, valued at the rated amounts, exceeds
    what the position's price bills by more than the tolerance; and contracts whose cost cap was
    reached (status `cap_reached`) or exceeded by more than the tolerance (`over_tolerance`), in
    `period` (YYYY-MM). A tariff without a tolerance has 0 %: any excess is listed.

    Needs `rated_usage` (schemas.outputs.RATED_USAGE, every run) on `con`, a connection from
    pipeline.engine.connect; registers the catalogs (`cat_*`, `bil_*`) and billing's `bill_*`
    tables on it. Returns schemas.pricing.COST_CONTROL rows, worst first.

    Args:
        billing: the billing catalog whose `variable_fixed` positions are checked (only positions,
            position_prices, modules and module_tariffs are read); None: no fixed prices.
    """
    pricing = pricing_of(catalog)
    for statement in sql.statements("duck/price/macros"):
        con.execute(statement)
    _fixed_price_lines(con, catalog, billing if billing is not None else empty_billing(), period)
    tariffs = catalog.tariffs.select("tariff_id", "currency").join(
        pricing.tariff_pricing.select("tariff_id", "cost_cap", "tolerance_pct"), on="tariff_id", how="left"
    )
    flat = pricing.flat_prices.join(catalog.articles.select("article_id", "price_per"), on="article_id")
    con.register("cc_tariffs", tariffs.to_arrow())
    con.register("cc_flags", pricing.tariff_articles.select("tariff_id", "article_id", "cost_cap").to_arrow())
    con.register("cc_flat", flat.to_arrow())
    return con.sql(sql.load("duck/price/cost_control"), params={"period": period}).pl().cast(COST_CONTROL)


def _fixed_price_lines(con: duckdb.DuckDBPyConnection, catalog: Catalog, billing: BillingCatalog, period: str) -> None:
    """Tables `bill_usage_agg` and `bill_usage_lines`: the period's usage lines of `variable_fixed`
    positions, priced as billing prices them (only the records of such positions are read)."""
    load_macros(con)
    catalog.register(con)
    billing.register(con)
    create_table(con, "bill_usage", "duck/price/fixed_usage", period=period)
    create_table(con, "bill_usage_agg", "duck/bill/usage_aggregates")
    create_table(con, "price_days", "duck/price/fixed_price_days")
    position_prices(con)
    create_table(con, "bill_usage_lines", "duck/bill/usage_lines")
