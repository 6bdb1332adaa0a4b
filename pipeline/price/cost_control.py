"""Cost control: flat prices and cost caps against the tariff's tolerance (DOMAIN §4).

`rating cost-control --period P` (pipeline/cli_pricing.py) reads the stored rated usage of
the period and prints this report; it also stores it as a table analysts can query.
"""

from __future__ import annotations

import duckdb
import polars as pl

import sql
from pipeline.catalog import Catalog
from pipeline.price.catalog import pricing_of
from schemas.pricing import COST_CONTROL


def cost_control(con: duckdb.DuckDBPyConnection, catalog: Catalog, period: str) -> pl.DataFrame:
    """Contracts whose flat-price usage, valued at the reference price, exceeds the flat price by more
    than the tolerance, and contracts whose cost cap was reached (status `cap_reached`) or exceeded
    by more than the tolerance (`over_tolerance`), in `period` (YYYY-MM).

    Needs `rated_usage` (schemas.outputs.RATED_USAGE, every run) on `con`, a connection from
    pipeline.engine.connect. Returns schemas.pricing.COST_CONTROL rows, worst first.
    """
    pricing = pricing_of(catalog)
    for statement in sql.statements("duck/price/macros"):
        con.execute(statement)
    tariffs = catalog.tariffs.select("tariff_id", "currency").join(
        pricing.tariff_pricing.select("tariff_id", "cost_cap", "tolerance_pct"), on="tariff_id", how="left"
    )
    flat = pricing.flat_prices.join(catalog.articles.select("article_id", "price_per"), on="article_id")
    con.register("cc_tariffs", tariffs.to_arrow())
    con.register("cc_flags", pricing.tariff_articles.select("tariff_id", "article_id", "cost_cap").to_arrow())
    con.register("cc_flat", flat.to_arrow())
    return con.sql(sql.load("duck/price/cost_control"), params={"period": period}).pl().cast(COST_CONTROL)
