"""What earlier runs of a period already used, so a later run goes on where they stopped."""

from __future__ import annotations

import polars as pl


def carry_in(rated: pl.DataFrame) -> pl.DataFrame:
    """Rated units per contract, article and period of earlier runs' rated usage
    (schemas.outputs.RATED_USAGE). Pass it to pipeline.price.priced_usage(earlier=...): they count
    against the period's free quantity first, and what exceeded it has climbed the volume tiers.

    >>> rated = pl.DataFrame({"contract_id": ["K", "K", "K"], "article_id": ["A", "A", "B"],
    ...     "period": ["2026-10"] * 3, "quantity": [60, 120, 5]})
    >>> carry_in(rated).rows()
    [('K', 'A', '2026-10', 180), ('K', 'B', '2026-10', 5)]
    """
    return (
        rated.group_by("contract_id", "article_id", "period")
        .agg(pl.col("quantity").sum().cast(pl.Int64))
        .sort("contract_id", "article_id", "period")
    )
