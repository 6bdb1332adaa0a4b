"""The coded price plans, contracts and device IDs pricing reads: plan_dim, contract_dim, dev_dim.

The rest of the catalog is coded in DuckDB (sql/duck/dims.sql: articles, bands, tariffs, customers
with prices, time zones, area codes, tariff-articles, tiers). These three have a row per contract
or device-ID slice, 100 k and 305 k in the bench, and joins of that size are where Polars is
quicker: DuckDB took 0.10 s for them on a warm connection (contract_dim alone 0.056 s: its window
over 100 k strings, then their texts copied into a table) and 0.17-0.24 s in a cold run, Polars
0.06 s and 0.16-0.20 s (in a run the rate card is built beside the zones' lookup, pipeline.job,
and both use Polars' threads). The contracts and device IDs are registered on the connection as
frames, the few plans made a table; the SQL after them (the rate card, the outcomes' reasons, the
invoice lines' texts) reads them by name, as it read dims.sql's tables.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline import engine

#: The columns of each table, in order (what dims.sql made before).
PLAN = ("plan_no", "tariff_no", "tariff_id", "price_list_id")
CONTRACT = ("contract_no", "contract_id", "customer_id", "tariff_id", "tariff_no", "plan_no", "cust_no", "special", "tz_no", "timezone", "vat_code")
DEVICE = (
    "dev_no", "contract_no", "tariff_no", "plan_no", "cust_no", "special", "tz_no", "banded", "holiday_bands", "hset_no",
    "catchall_zone_no", "local_zone_no", "area_lo", "area_hi",
)  # fmt: skip
#: What a device-ID slice takes from its tariff (tariff_dim).
OF_TARIFF = ("banded", "holiday_bands", "hset_no", "catchall_zone_no", "local_zone_no")


def coded_contracts(
    con: duckdb.DuckDBPyConnection, contracts: pl.DataFrame, customers: pl.DataFrame, price_lists: pl.Series, special: pl.Series, intervals: pl.DataFrame
) -> None:
    """Register plan_dim, contract_dim and dev_dim on `con`.

    Args:
        contracts, customers: the catalog's tables (cat_contracts, cat_customers).
        price_lists: the price_list_id of every price-list row (pr_price_lists): a price list
            without rows is no price list.
        special: the contract_id of every special-price row (pr_special_prices).
        intervals: the device-ID slices (device_intervals, pipeline.assign.index.DeviceIndex.intervals).
    Needs on `con`: tariff_dim, cust_dim, tz_dim and area_dim (sql/duck/dims.sql).
    """
    tariffs = con.sql(f"SELECT tariff_no, tariff_id, {', '.join(OF_TARIFF)} FROM tariff_dim").pl()
    # a contract's customer, with the price list only where it has prices
    listed = pl.col("price_list_id").is_in(price_lists.unique().implode())
    own = contracts.select("contract_id", "customer_id", "tariff_id", "timezone").join(
        customers.select("customer_id", pl.when(listed).then(pl.col("price_list_id")).alias("price_list_id"), pl.col("vat_treatment").alias("vat_code")),
        on="customer_id",
        how="inner",
    )
    plans = plan_dim(own, intervals, tariffs)
    coded = contract_dim(own, plans, tariffs, con.sql("SELECT cust_no, customer_id FROM cust_dim").pl(), con.sql("SELECT tz_no, timezone FROM tz_dim").pl(), special)
    devices = dev_dim(intervals, coded, plans, tariffs, con.sql("SELECT area_lo, area_hi FROM area_dim").pl())
    for name, frame in (("contract_dim", coded), ("dev_dim", devices)):
        con.register(name, engine.arrow(frame))
    # the few plans as a table: the rate card's queries read them a dozen times (sql/duck/price/plan_candidates.sql)
    con.register("plan_frame", engine.arrow(plans))
    con.execute("CREATE OR REPLACE TEMP TABLE plan_dim AS SELECT * FROM plan_frame")
    con.unregister("plan_frame")


def plan_dim(own: pl.DataFrame, intervals: pl.DataFrame, tariffs: pl.DataFrame) -> pl.DataFrame:
    """A price plan is a tariff with a price list: the rate card is built once per plan. A
    contract's plans: its own tariff's, and those of the tariffs its device-ID slices carry after
    a tariff change (intervals.tariff_id), each with its customer's price list. Numbered by tariff,
    then price list (none first).

    Args:
        own: per contract its contract_id, tariff_id and price_list_id (null: none with prices).
    """
    slices = intervals.filter(pl.col("tariff_id").is_not_null()).select("contract_id", "tariff_id")
    pairs = pl.concat([own.select("tariff_id", "price_list_id"), slices.join(own.select("contract_id", "price_list_id"), on="contract_id").drop("contract_id")])
    return (
        pairs.unique()
        .join(tariffs.select("tariff_no", "tariff_id"), on="tariff_id")
        .sort("tariff_no", "price_list_id", nulls_last=False)
        .select(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("plan_no"), *PLAN[1:])
    )


def contract_dim(own: pl.DataFrame, plans: pl.DataFrame, tariffs: pl.DataFrame, cust: pl.DataFrame, tz: pl.DataFrame, special: pl.Series) -> pl.DataFrame:
    """Per contract, numbered in contract_id order: its tariff and plan (its tariff with its
    customer's price list), its customer's number among those with prices of their own (0: none),
    whether it has special prices, its time zone's number and its customer's VAT treatment."""
    return (
        own.join(tariffs.select("tariff_id", "tariff_no"), on="tariff_id")
        .join(plans.select("tariff_no", "price_list_id", "plan_no"), on=["tariff_no", "price_list_id"], nulls_equal=True)
        .join(cust, on="customer_id", how="left")
        .join(tz, on="timezone")
        .sort("contract_id")
        .select(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("contract_no"),
            *CONTRACT[1:6],
            pl.col("cust_no").fill_null(0),
            pl.col("contract_id").is_in(special.unique().implode()).alias("special"),
            *CONTRACT[8:],
        )
    )


def dev_dim(intervals: pl.DataFrame, contracts: pl.DataFrame, plans: pl.DataFrame, tariffs: pl.DataFrame, areas: pl.DataFrame) -> pl.DataFrame:
    """Everything a record needs from its device ID, contract and tariff, one row per device-ID
    slice (dev_no): the tariff is the slice's after a tariff change, else the contract's, and its
    plan the one of that tariff with the contract's price list, so every record is rated with the
    tariff valid at its start by the assignment alone (docs/pricing.md). A device ID of a tariff
    with a local zone whose numbers all lie in one area code (the last area_lo at or below its
    lo, its hi within that area's) makes local calls within [area_lo, area_hi]; area codes are
    prefix-free, so their intervals are disjoint. Its labels (matched_id, match_kind) are not
    copied: the detail reads them from device_intervals."""
    # a contract's own plan and a tariff → the plan of that tariff with the same price list
    plan_of = (
        plans.select(pl.col("plan_no").alias("own_plan_no"), "price_list_id")
        .join(plans.select("price_list_id", "plan_no", "tariff_no"), on="price_list_id", nulls_equal=True)
        .join(tariffs.select("tariff_no", "tariff_id", *OF_TARIFF), on="tariff_no")
        .drop("price_list_id")
    )
    of_contract = contracts.select(
        "contract_id", "contract_no", pl.col("plan_no").alias("own_plan_no"), pl.col("tariff_id").alias("own_tariff_id"), "cust_no", "special", "tz_no"
    )
    devices = (
        intervals.select("dev_no", "lo", "hi", "contract_id", "tariff_id")
        .join(of_contract, on="contract_id")
        .with_columns(pl.coalesce("tariff_id", "own_tariff_id").alias("tariff_id"))
        .join(plan_of, on=["own_plan_no", "tariff_id"])
    )
    local = devices.filter((pl.col("local_zone_no") > 0) & pl.col("lo").is_not_null()).select("dev_no", "lo", "hi").sort("lo")
    inside = pl.col("hi") <= pl.col("area_hi")
    area = local.join_asof(areas.sort("area_lo"), left_on="lo", right_on="area_lo", strategy="backward").select(
        "dev_no", pl.when(inside).then(pl.col("area_lo")).alias("area_lo"), pl.when(inside).then(pl.col("area_hi")).alias("area_hi")
    )
    return devices.join(area, on="dev_no", how="left").select(DEVICE).sort("dev_no")
