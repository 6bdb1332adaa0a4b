"""The canonical usage record: what every reader produces and every later stage reads."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pandera.polars as pandera

ID_TYPES = ("phone", "ipv4", "ipv6", "mac", "string")

#: Arrow schema of the canonical usage record, in column order.
USAGE_ARROW = pa.schema(
    [
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("id_type", pa.string(), nullable=False),
        pa.field("subscriber_id", pa.string(), nullable=False),
        pa.field("counterparty", pa.string()),
        pa.field("start_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("duration_s", pa.int64()),
        pa.field("volume_bytes", pa.int64()),
        pa.field("article_key", pa.string(), nullable=False),
        pa.field("billable", pa.bool_(), nullable=False),
    ]
)

USAGE_POLARS = pl.Schema(pl.from_arrow(USAGE_ARROW.empty_table()).schema)

EARLIEST = "2000-01-01"
LATEST = "2100-01-01"
#: Longest duration one record may carry: a week (switches cut longer calls into partial records).
MAX_DURATION_S = 7 * 24 * 3600
#: Largest volume one record may carry: 10^15 bytes (1 PB; a 100 Gbit/s link busy for a whole day
#: moves 1.08 PB). Bigger values are clock or counter errors, and sums of them would overflow 64 bits.
MAX_VOLUME_BYTES = 10**15


def _has_quantity() -> pl.Expr:
    return pl.col("duration_s").is_not_null() | pl.col("volume_bytes").is_not_null()


def _start_time_in_range() -> pl.Expr:
    t = pl.col("start_time")
    return t.is_null() | t.is_between(
        pl.lit(EARLIEST).str.to_datetime(time_zone="UTC"),
        pl.lit(LATEST).str.to_datetime(time_zone="UTC"),
        closed="left",
    )


#: The rules of `UsageRecord` over whole rows, by check name, each an expression true where a row
#: keeps it: the model's checks select them, and ingest's one-pass look for bad rows uses them too.
ROW_RULES = {"has_duration_or_volume": _has_quantity, "start_time_in_range": _start_time_in_range}


class UsageRecord(pandera.DataFrameModel):
    """One usage event (a call, an SMS, a traffic record), as every reader emits it.

    `subscriber_id` identifies the customer side (A-number, IP, MAC, …); `id_type`
    says how to read it. A record carries a duration (seconds) or a volume (bytes).
    """

    record_key: str = pandera.Field(nullable=False, str_length={"min_value": 1})
    source: str = pandera.Field(nullable=False)
    source_file: str = pandera.Field(nullable=False)
    source_line: pl.Int64 = pandera.Field(nullable=False, ge=1)
    id_type: str = pandera.Field(nullable=False, isin=list(ID_TYPES))
    subscriber_id: str = pandera.Field(nullable=False, str_length={"min_value": 1})
    counterparty: str = pandera.Field(nullable=True)
    start_time: pl.Datetime(time_unit="us", time_zone="UTC") = pandera.Field(nullable=False)
    duration_s: pl.Int64 = pandera.Field(nullable=True, ge=0, le=MAX_DURATION_S)
    volume_bytes: pl.Int64 = pandera.Field(nullable=True, ge=0, le=MAX_VOLUME_BYTES)
    article_key: str = pandera.Field(nullable=False, str_length={"min_value": 1})
    billable: bool = pandera.Field(nullable=False)

    @pandera.dataframe_check(name="has_duration_or_volume")
    def has_quantity(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        """A record must say how much was used: a duration or a volume."""
        return data.lazyframe.select(ROW_RULES["has_duration_or_volume"]())

    @pandera.dataframe_check(name="start_time_in_range")
    def start_time_plausible(cls, data: pandera.PolarsData) -> pl.LazyFrame:
        """Start times before 2000 or after 2100 are switch clock errors."""
        return data.lazyframe.select(ROW_RULES["start_time_in_range"]())

    class Config:
        strict = True
        coerce = False
