"""Price: assigned usage to priced usage, every amount explainable (docs/pricing.md).

The work is SQL over narrow, integer-coded tables on the run's DuckDB connection:
`build_rate_card` codes the catalog and resolves what can be resolved once per price plan
(zones, article keys, bands, price precedence over time); `priced_usage` prices every
assigned record in two whole-table passes, walking in time order only the groups
(contract, article, period) whose free quantity or tiers make order matter. Minimum revenue
and cost cap act on a billed period's lines (`usage_adjustments`); `cost_control` reports
flat prices and cost caps against their tolerance.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa

import sql
from pipeline import engine
from pipeline.assign import build_segments, item_lookup, segment_items
from pipeline.assign.keys import phone_key, phone_prefix_hi
from pipeline.catalog import Catalog
from pipeline.price import records, walk
from pipeline.price.adjustments import adjustment_rules, usage_adjustments
from pipeline.price.calendar import holiday_days
from pipeline.price.coded import coded_contracts
from pipeline.price.catalog import (
    PricedCatalog,
    PricingCatalog,
    band_minutes,
    empty_pricing,
    pricing_of,
    validated_pricing,
    with_pricing,
    zone_ids,
)
from pipeline.price.cost_control import cost_control

__all__ = [
    "PricedCatalog",
    "PricingCatalog",
    "adjustment_rules",
    "build_rate_card",
    "build_zone_index",
    "carry_in",
    "cost_control",
    "empty_pricing",
    "key_dim",
    "priced_usage",
    "pricing_of",
    "usage_adjustments",
    "validated_pricing",
    "with_pricing",
    "zone_dim",
    "zone_segments",
    "zoned_usage",
]

#: What earlier runs of a period already used, per contract, tariff, article and period (see carry_in).
CARRY_SCHEMA = {"contract_id": pl.String, "tariff_id": pl.String, "article_id": pl.String, "period": pl.String, "quantity": pl.Int64}


def zone_dim(catalog: Catalog) -> pl.DataFrame:
    """Every zone a record can land in (prefix zones, catch-all zones, local-call zones), numbered from 1."""
    zones = zone_ids(catalog, pricing_of(catalog).tariff_pricing)
    return pl.DataFrame({"zone_id": zones.unique().sort()}).with_row_index("zone_no", offset=1).with_columns(
        pl.col("zone_no").cast(pl.Int32)
    )


def key_dim(catalog: Catalog) -> pl.DataFrame:
    """Article keys of the catalog, numbered from 1 (usage with an unknown key gets 0)."""
    keys = catalog.article_keys.get_column("article_key").unique().sort()
    return pl.DataFrame({"article_key": keys}).with_row_index("key_no", offset=1).with_columns(pl.col("key_no").cast(pl.Int32))


def build_zone_index(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> int:
    """Create `zone_dim` and `zone_segments` (the longest destination prefix wins)."""
    zones = zone_dim(catalog)
    con.register("zone_dim", zones.to_arrow())
    prefixes = (
        catalog.zones.join(zones, on="zone_id")
        .select(
            pl.col("zone_no").cast(pl.Int64).alias("item"),
            phone_key(pl.col("prefix")).alias("lo"),
            phone_prefix_hi(pl.col("prefix")).alias("hi"),
        )
        .with_columns((pl.col("hi") - pl.col("lo")).alias("width"))
    )
    count = build_segments(con, "zone_items", prefixes)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE zone_segments AS "
        "SELECT seg_lo, seg_hi, CAST(item AS INTEGER) AS zone_no FROM zone_items WHERE rank = 1 ORDER BY seg_lo"
    )
    con.execute("CREATE OR REPLACE TEMP VIEW zone_segment_items AS SELECT seg_lo, seg_hi, zone_no AS item FROM zone_segments")
    return count


def zone_segments(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The zone segments build_zone_index made, as zoned_usage searches them."""
    return segment_items(con, "zone_segment_items")


def zoned_usage(located: pl.DataFrame, zones: pl.DataFrame) -> pl.DataFrame:
    """`located` with `zone_hit`: the zone of the called number's longest prefix (null: none), found
    in `zones` (zone_segments). Needs no connection: it runs while DuckDB builds the rate card."""
    zone = item_lookup(located.get_column("cp_key"), zones)
    return located.with_columns(zone.cast(pl.Int32).alias("zone_hit"))


def build_rate_card(con: duckdb.DuckDBPyConnection, catalog: Catalog | None = None, intervals: pl.DataFrame | None = None) -> None:
    """Code the catalog (sql/duck/dims.sql, then the price plans, contracts and device IDs:
    pipeline/price/coded.py) and build the rate card, customer prices, special-price intervals,
    holidays and time-zone offsets the pricing of the located records needs.

    Args:
        catalog: None: the core catalog registered on `con`, without pricing tables.
        intervals: the device-ID slices (DeviceIndex.intervals); None: `device_intervals` on `con`.
    Needs on `con`: the core catalog (`cat_*`), `key_dim`, `zone_dim`, `device_intervals` and
    `assigned_span` (pipeline.assign.assigned_usage: the span of days to convert to local time).
    """
    pricing = pricing_of(catalog) if catalog is not None else empty_pricing()
    pricing.register(con)
    con.register("band_minutes", band_minutes(pricing.time_bands).to_arrow())
    _run_script(con, "duck/price/macros")
    _run_script(con, "duck/dims")
    contracts, customers = (
        (catalog.contracts, catalog.customers) if catalog is not None else (con.table(f"cat_{t}").pl() for t in ("contracts", "customers"))
    )
    coded_contracts(
        con, contracts, customers, pricing.price_lists.get_column("price_list_id"), pricing.special_prices.get_column("contract_id"),
        con.table("device_intervals").pl() if intervals is None else intervals,
    )  # fmt: skip
    _calendar(con)
    _create(con, "tz_days", "duck/price/tz_days")
    con.execute(f"CREATE OR REPLACE TEMP VIEW price_candidates AS {sql.load('duck/price/plan_candidates')}")
    _create(con, "plan_prices", "duck/price/timeline")
    _create(con, "rate_card", "duck/rate_card")
    _run_script(con, "duck/price/cards")
    con.execute(f"CREATE OR REPLACE TEMP VIEW price_candidates AS {sql.load('duck/price/customer_candidates')}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cust_card AS SELECT t.owner_no AS cust_no, t.* EXCLUDE (owner_no, ref), r.ref_no "
        f"FROM ({sql.load('duck/price/timeline')}) AS t JOIN price_ref_dim AS r USING (ref)"
    )
    _create(con, "special_dim", "duck/price/special_dim")
    carry(con, None)


def carry_in(rated: pl.DataFrame) -> pl.DataFrame:
    """Rated units per contract, tariff, article and period of earlier runs' rated usage
    (schemas.outputs.RATED_USAGE) or usage invoice lines (INVOICE_LINES: their quantity is the
    sum of their records'). Pass it to pipeline.job.rate / pipeline.price.priced_usage
    (earlier=...): they count against the period's free quantity first, and what exceeded it has
    climbed the volume tiers.

    >>> rated = pl.DataFrame({"contract_id": ["K", "K", "K"], "tariff_id": ["T"] * 3, "article_id": ["A", "A", "B"],
    ...     "period": ["2026-10"] * 3, "quantity": [60, 120, 5]})
    >>> carry_in(rated).rows()
    [('K', 'T', 'A', '2026-10', 180), ('K', 'T', 'B', '2026-10', 5)]
    """
    keys = ["contract_id", "tariff_id", "article_id", "period"]
    return rated.group_by(keys).agg(pl.col("quantity").sum().cast(pl.Int64)).sort(keys)


def carry(con: duckdb.DuckDBPyConnection, earlier: pl.DataFrame | None) -> None:
    """Table `price_carry`: units earlier runs rated per group (contract, tariff-article, period)."""
    frame = pl.DataFrame(schema=CARRY_SCHEMA) if earlier is None else earlier.select(list(CARRY_SCHEMA)).cast(CARRY_SCHEMA)
    con.register("carry_in", frame.to_arrow())
    _create(con, "price_carry", "duck/price/carry")


def priced_usage(con: duckdb.DuckDBPyConnection, earlier: pl.DataFrame | None, located: pl.DataFrame) -> pa.Table:
    """Register `pricing` (pipeline/price/records.py PRICING_COLUMNS): each record of `located`
    priced, or with a NULL amount: unrateable, or unassigned where contract_no is NULL; returns it
    (the table registered).

    Args:
        earlier: what earlier runs of the same periods rated (carry_in of their rated usage), so
            free quantities and tiers go on where they stopped; None: this run sees whole periods.
        located: the located records with their zone (zoned_usage).
    """
    if earlier is not None:
        carry(con, earlier)
    carried = con.sql("SELECT gk, q_before FROM price_carry").pl()
    numbers = "SELECT coalesce(max(contract_no), 0), (SELECT coalesce(max(ta_no), 0) FROM ta_dim) FROM contract_dim"
    walk.check_key_space(*engine.one_row(con, numbers))
    lookups = walk.rules(con.table("ta_dim").pl(), con.table("tier_dim").pl())
    priced = records.priced_records(con, located, lookups, carried)
    con.register("pricing", priced)
    return priced


def _calendar(con: duckdb.DuckDBPyConnection) -> None:
    """Table `holiday_dim`: public holidays of the calendars in use, for the years the usage spans."""
    calendars = con.sql("SELECT hset_no, holiday_country, holiday_subdiv FROM hset_dim").pl()
    years = (2000, 2000)
    if calendars.height:
        span = engine.one_row(con, "SELECT year(first_start), year(last_start) FROM assigned_span")
        years = (span[0] - 1, span[1] + 1) if span[0] is not None else years
    con.register("holiday_days", holiday_days(calendars, range(years[0], years[1] + 1)).to_arrow())
    con.execute("CREATE OR REPLACE TEMP TABLE holiday_dim AS SELECT DISTINCT hset_no, day FROM holiday_days")


def _create(con: duckdb.DuckDBPyConnection, table: str, name: str) -> None:
    """TEMP table `table` (a fixed name of this package) from the query in sql/<name>.sql."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql.load(name)}")


def _run_script(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for statement in sql.statements(name):
        con.execute(statement)
