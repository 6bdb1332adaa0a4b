"""Minimum revenue and cost cap: adjustment lines on a billed period's usage lines (DOMAIN §4).

They act on sums, after free quantities and tiers (docs/pricing.md): per contract, billing
period and tariff, on the rounded lines of the articles flagged for them. `usage_adjustments`
is a pure function of two tables, the shape of the billing run's hook
(pipeline.bill.invoices.UsageAdjustments) once its rules are bound:

    hook = functools.partial(usage_adjustments, rules=adjustment_rules(catalog))
    billed(con, request, adjustments=hook)

It computes in DuckDB with the project's one rounding rule (sql/duck/macros.sql).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

import sql
from pipeline import engine
from pipeline.catalog import Catalog
from pipeline.price.catalog import pricing_of
from schemas.billing import ADJUSTMENT_SCHEMA, USAGE_LINE_SCHEMA
from schemas.catalog import MONEY, RATE

TARIFF_RULES = {"tariff_id": pl.String, "min_revenue": MONEY, "cost_cap": MONEY, "vat_rate": RATE}
ARTICLE_FLAGS = {"tariff_id": pl.String, "article_id": pl.String, "min_revenue": pl.Boolean, "cost_cap": pl.Boolean}


@dataclass(frozen=True)
class AdjustmentRules:
    """Each tariff's minimum revenue, cost cap and VAT rate, and which articles count toward them."""

    tariffs: pl.DataFrame
    flags: pl.DataFrame


def adjustment_rules(catalog: Catalog) -> AdjustmentRules:
    """The rules of a catalog (tariff_pricing.csv and tariff_articles.csv of its pricing tables)."""
    pricing = pricing_of(catalog)
    tariffs = catalog.tariffs.select("tariff_id", "vat_rate").join(
        pricing.tariff_pricing.select("tariff_id", "min_revenue", "cost_cap"), on="tariff_id", how="left"
    )
    flags = pricing.tariff_articles.select(list(ARTICLE_FLAGS))
    return AdjustmentRules(tariffs.select(list(TARIFF_RULES)).cast(TARIFF_RULES), flags.cast(ARTICLE_FLAGS))


def usage_adjustments(usage_lines: pl.DataFrame, rules: AdjustmentRules) -> pl.DataFrame:
    """Minimum-revenue and cost-cap adjustment lines (schemas.billing.ADJUSTMENT_SCHEMA).

    Args:
        usage_lines: rounded usage lines of whole billing periods (schemas.billing.USAGE_LINE_SCHEMA:
            contract, period, tariff, article, net_amount, VAT rate and code, currency); a
            period without usage is one line of its tariff with no article and 0.00, which gets
            the tariff's whole minimum revenue.
        rules: adjustment_rules(catalog).
    Returns: one line per contract, period, tariff, kind (MIN_REVENUE first, then COST_CAP) and
        VAT rate; none where the flagged sum lies within the limits.
    """
    con = engine.connect(threads=1)
    try:
        for statement in sql.statements("duck/price/macros"):
            con.execute(statement)
        con.register("adj_lines", usage_lines.select(list(USAGE_LINE_SCHEMA)).cast(USAGE_LINE_SCHEMA).to_arrow())
        con.register("adj_tariffs", rules.tariffs.to_arrow())
        con.register("adj_flags", rules.flags.to_arrow())
        return con.sql(sql.load("duck/price/adjustments")).pl().cast(ADJUSTMENT_SCHEMA)
    finally:
        con.close()
