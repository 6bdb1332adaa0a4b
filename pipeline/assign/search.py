"""ID search: which catalog IDs match one identifier, which of them wins at a time, and why.

The same key rules and the same ranking as the assignment of usage (most specific
first, then the lower start, then catalog order), applied to one identifier against the
catalog's intervals: no index needed for a single lookup.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipeline.assign.keys import KINDS, digit_count, id_intervals, ipv4_value, ipv6_values, mac_value, main_key, phone_key, string_intervals
from pipeline.ingest.numbers import e164

#: The columns id_matches returns.
MATCH_COLUMNS = ["line", "contract_id", "id_type", "matched_id", "match", "valid_from", "valid_until", "valid_at", "wins"]


def identifier_keys(identifier: str, device_ids: pl.DataFrame, id_type: str | None = None) -> pl.DataFrame:
    """(id_type, key) for every ID type `identifier` parses as (or just `id_type`); keys as Int128.

    A phone number is read as ingestion reads one from a source without a numbering plan
    (`+`, separators, a bracketed trunk prefix: pipeline.ingest.numbers.e164); a string ID only
    matches exactly.
    """
    text = pl.lit(identifier.strip(), pl.String)
    digits = e164(text)
    strings = string_intervals(device_ids)
    string_key = strings.filter(pl.col("value") == identifier.strip()).get_column("key")
    keys = {
        "phone": main_key("phone", phone_key(digits)).cast(pl.Int128),
        "ipv4": main_key("ipv4", ipv4_value(text)).cast(pl.Int128),
        "ipv6": pl.lit(ipv6_values(pl.Series([identifier.strip()])).item(), pl.Int128),
        "mac": main_key("mac", mac_value(text)).cast(pl.Int128),
        "string": pl.lit(string_key.item() if string_key.len() else None, pl.Int128),
    }
    wanted = [id_type] if id_type else list(KINDS)
    frame = pl.select(*(keys[t].alias(t) for t in wanted)).unpivot(variable_name="id_type", value_name="key")
    return frame.filter(pl.col("key").is_not_null())


def id_matches(
    device_ids: pl.DataFrame, identifier: str, at: datetime | None = None, id_type: str | None = None, lines: pl.Series | None = None
) -> pl.DataFrame:
    """Every catalog ID that covers `identifier`, most specific first (MATCH_COLUMNS).

    `match` is how it matches: `exact` (the ID itself), `head-data` (a longer number the
    ID heads), `range`, `cidr`. `valid_at` says whether its validity holds at `at` (null
    without `at`); `wins` marks the one that assignment picks at `at` for a record of that ID
    type: the most specific valid one of its type (a text may parse as several types: a phone
    record and a string record of it go to their own contracts). `line` is the row's line in
    device_ids.csv: `lines` (the file line of each row, as read), else the row's position
    after the header.
    """
    probe = identifier_keys(identifier, device_ids, id_type)
    framed = id_intervals(device_ids).with_row_index("row").filter(pl.col("lo").is_not_null())
    moment = pl.lit(at, pl.Datetime("us", "UTC")) if at is not None else pl.lit(None, pl.Datetime("us", "UTC"))
    hits = (
        framed.join(probe, on="id_type")
        # a phone range's interval also spans shorter numbers, which it does not hold (keys.py)
        .filter((pl.col("lo") <= pl.col("key")) & (pl.col("key") <= pl.col("hi")) & (digit_count(pl.col("key")) >= pl.col("min_digits")))
        .with_columns(
            # hi - lo wraps around for blocks of half the IPv6 space or more: those are the widest
            ((pl.col("hi") - pl.col("lo")) < 0).alias("_huge"),
            (pl.col("hi") - pl.col("lo")).alias("_width"),
            (moment.is_not_null() & (pl.col("valid_from").is_null() | (pl.col("valid_from") <= moment))
             & (pl.col("valid_until").is_null() | (moment < pl.col("valid_until")))).alias("valid_at"),
        )
        .sort("_huge", "_width", "lo", "row")
    )
    exact = (pl.col("lo") == pl.col("key")) & (pl.col("hi") == pl.col("key"))
    is_phone_id = (pl.col("id_type") == "phone") & pl.col("id_to").is_null()
    match = (
        pl.when(is_phone_id & (pl.col("lo") == pl.col("key"))).then(pl.lit("exact"))
        .when(is_phone_id).then(pl.lit("head-data"))
        .when(exact).then(pl.lit("exact"))
        .otherwise(pl.col("match_kind"))
    )
    first_valid = pl.col("valid_at") & (pl.col("valid_at").cum_sum().over("id_type") == 1)
    line = pl.lit(lines).gather(pl.col("row")) if lines is not None else pl.col("row") + 2
    return hits.select(
        line.cast(pl.Int64).alias("line"),
        "contract_id",
        "id_type",
        pl.when(pl.col("id_to").is_null()).then(pl.col("id_value")).otherwise(pl.format("{}-{}", "id_value", "id_to")).alias("matched_id"),
        match.alias("match"),
        "valid_from",
        "valid_until",
        pl.when(moment.is_not_null()).then(pl.col("valid_at")).alias("valid_at"),
        first_valid.fill_null(False).alias("wins"),
    )
