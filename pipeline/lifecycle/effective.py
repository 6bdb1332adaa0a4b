"""The catalog as of a date: which positions run, at which price, under which tariff, billed to
which address. Re-rating and corrections read the catalog this way; the billing run uses the
same SQL for the same questions (sql/duck/bill/position_prices.sql, addresses_on.sql).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipeline.bill.queries import create_table
from pipeline.bill.recurring import prices_on
from pipeline.catalog import Catalog
from pipeline.catalog.billing import BillingCatalog


def catalog_on(catalog: Catalog, billing: BillingCatalog, day: date) -> dict[str, pl.DataFrame]:
    """Tables valid on `day`: `positions` (running that day, with price, price source and
    tariff), `module_tariffs` (each module's tariff) and `addresses` (each contract's billing address)."""
    running = billing.positions.join(catalog.contracts.select("contract_id", pl.col("start_date").alias("_c_start")), on="contract_id")
    running = running.filter(
        (pl.coalesce("start_date", "_c_start") <= day) & (pl.col("end_date").is_null() | (pl.col("end_date") >= day))
    ).drop("_c_start")
    with prices_on(catalog, billing, running, day) as con:
        prices = con.table("bill_prices").select("position_id", "tariff_id", "price", "price_source").pl()
        addresses = create_table(con, "bill_addresses_on", "duck/bill/addresses_on", day=day).pl()
    tariffs = billing.module_tariffs.filter(
        (pl.col("valid_from") <= day) & (pl.col("valid_until").is_null() | (pl.col("valid_until") > day))
    )
    return {
        "positions": running.join(prices, on="position_id", how="left").sort("position_id"),
        "module_tariffs": tariffs.sort("module_id"),
        "addresses": addresses.sort("contract_id"),
    }
