"""What earlier runs of a period already used, so a later run goes on where they stopped."""

from __future__ import annotations

import polars as pl


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
