"""Assign: each usage record to the contract whose device ID matches it at its start time.

The catalog's device IDs become key intervals (pipeline/assign/keys.py), flattened once into
disjoint segments (pipeline/assign/index.py); every record's key finds its segment in one
sorted merge, and the segment's most specific ID valid at the record's start time wins
(docs/assignment.md). Most specific: the longest prefix or the narrowest range.

Stages, as pipeline/job.py calls them:
    keyed = keyed_usage(usage, keys, rows)            # narrow integer keys of the rows to rate; rid = batch row
    index = cached_device_index(con, device_ids, cache_dir=…)  # built once per catalog (pipeline/io/index_cache.py)
    located = located_usage(con, keyed, index)        # + dev_no, id_parsed, id_known
    assigned_usage(con, located)                      # the span of their starts, for the rate card
    unassigned_only(con, located)                     # once priced: `assignment` of the unassigned records only
"""

from __future__ import annotations

import duckdb
import polars as pl

import sql
from pipeline.assign.index import (
    NO_SEGMENT,
    DeviceIndex,
    assigned_devices,
    build_device_index,
    build_segments,
    device_intervals,
    interval_lookup,
    item_lookup,
    segment_items,
)
from pipeline.assign.keys import (
    FORMATS,
    KIND_SHIFT,
    KINDS,
    counterparty_key_of,
    ipv4_value,
    ipv6_values,
    mac_value,
    main_key,
    phone_key,
    phone_key_of,
    unchecked_phone_key,
)

__all__ = [
    "DeviceIndex",
    "assigned_usage",
    "build_device_index",
    "build_segments",
    "device_intervals",
    "interval_lookup",
    "item_lookup",
    "keyed_usage",
    "located_usage",
    "segment_items",
    "unassigned_only",
]

#: How a usage identifier of each main-space kind becomes its key (strings and IPv6 need the index).
_USAGE_KEYS = {
    "phone": phone_key,
    "ipv4": lambda t: main_key("ipv4", ipv4_value(t)),
    "mac": lambda t: main_key("mac", mac_value(t)),
}


def keyed_usage(usage: pl.DataFrame, keys: pl.DataFrame, rows: pl.Series | None = None) -> pl.DataFrame:
    """The narrow columns assignment and pricing need of the records of `usage` where `rows`
    holds (all when None), in batch order; `rid` is a record's row number in `usage`.

    `id_key` is the main-space key of phone, IPv4 and MAC identifiers (null where one does
    not parse; string and IPv6 identifiers are keyed by `located_usage`, which has the index),
    `id_kind` the kind number (keys.KINDS), `cp_key` the counterparty's key (keys.counterparty_key).
    `subscriber_id` is kept only when some record needs it there (a string or IPv6 identifier).

    Args:
        keys: (article_key, key_no) codes; a key the catalog does not know gets 0.
        rows: which records to key (the accepted, billable ones). Only the narrow columns are
            filtered, so the batch itself is never copied.
    """
    id_type = usage.get_column("id_type")
    if (id_type == "phone").all():  # the common batch: one kind, no per-kind gathers
        kind, id_key = pl.lit(KINDS["phone"], pl.Int8), unchecked_phone_key(pl.col("subscriber_id"))
        checked_id = phone_key_of(pl.col("id_key"))
        text = []
    else:
        kinds, main_keys = _identifier_keys(id_type, usage.get_column("subscriber_id"))
        kind, id_key, checked_id = pl.lit(kinds), pl.lit(main_keys), pl.col("id_key")
        text = ["subscriber_id"] if kinds.is_in([KINDS["string"], KINDS["ipv6"]]).any() else []
    # in two steps: the texts parsed to unchecked keys, then tested (keys.unchecked_phone_key)
    keyed = usage.lazy().select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rid"),
        kind.alias("id_kind"),
        id_key.alias("id_key"),
        *text,
        unchecked_phone_key(pl.col("counterparty")).alias("cp_key"),
        "start_time",
        "duration_s",
        "volume_bytes",
        _coded(pl.col("article_key"), keys).alias("key_no"),
    )
    if rows is not None and not rows.all():
        keyed = keyed.filter(pl.lit(rows))  # after the select: rid stays the batch row
    return keyed.with_columns(checked_id.alias("id_key"), counterparty_key_of(pl.col("cp_key")).alias("cp_key")).collect()


def _identifier_keys(id_type: pl.Series, subscriber_id: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(kind, main-space key) per record of a batch with several ID types; each kind's rule runs on its rows only."""
    kind = id_type.replace_strict(KINDS, default=-1, return_dtype=pl.Int8)
    key = pl.repeat(None, id_type.len(), dtype=pl.Int64, eager=True)
    for name, rule in _USAGE_KEYS.items():
        rows = (kind == KINDS[name]).arg_true()
        if rows.len():
            key.scatter(rows, _evaluated(rule, subscriber_id.gather(rows)))
    return kind, key


def _evaluated(rule, values: pl.Series) -> pl.Series:
    """A key rule applied to a Series (lazily: shared parts once)."""
    return pl.LazyFrame({"v": values}).select(rule(pl.col("v"))).collect().to_series()


def _coded(article_key: pl.Expr, keys: pl.DataFrame) -> pl.Expr:
    """Article keys as their key_no; a catalog has a handful, so a chain of equality tests beats a hash per row."""
    if keys.height > 16:
        codes = dict(zip(keys.get_column("article_key"), keys.get_column("key_no")))
        return article_key.replace_strict(codes, default=0, return_dtype=pl.Int32)
    coded = pl.lit(0, pl.Int32)
    for name, number in zip(keys.get_column("article_key"), keys.get_column("key_no")):
        coded = pl.when(article_key == name).then(pl.lit(number, pl.Int32)).otherwise(coded)
    return coded


def located_usage(con: duckdb.DuckDBPyConnection, keyed: pl.DataFrame, index: DeviceIndex) -> pl.DataFrame:
    """`keyed` with `dev_no` (the device ID row the record is assigned to; null: unassigned),
    `id_parsed` (the identifier is valid for its id_type; a string ID is any non-blank text)
    and `id_known` (some ID holds it, at some time).
    """
    kind = keyed.get_column("id_kind")
    key = keyed.get_column("id_key")
    text = keyed.get_column("subscriber_id") if "subscriber_id" in keyed.columns else None  # string or IPv6 IDs only
    if (kind == KINDS["string"]).any():
        rows = (kind == KINDS["string"]).arg_true()
        unknown = (KINDS["string"] << KIND_SHIFT) + index.strings.height  # parsed, but no ID covers it
        value = pl.col("v").str.strip_chars()
        codes = pl.DataFrame({"v": text.gather(rows)}).select(
            pl.when(value.str.len_bytes() > 0).then(  # blank text is no string ID: not parsed (keys.FORMATS)
                value.replace_strict(index.strings.get_column("value"), index.strings.get_column("key"), default=unknown, return_dtype=pl.Int64)
            )
        ).to_series()
        key = key.clone().scatter(rows, codes)
    start = keyed.get_column("start_time").dt.epoch("us")
    seg = index.segments
    codes, further = assigned_devices(key, start, index.main.get_column("seg_lo"), index.main.get_column("seg_hi"), seg)
    parsed = key.is_not_null()
    if (kind == KINDS["ipv6"]).any():
        rows = (kind == KINDS["ipv6"]).arg_true()
        v6 = ipv6_values(text.gather(rows))
        codes_v6, further_v6 = assigned_devices(
            v6, start.gather(rows), index.ipv6.get_column("seg_lo"), index.ipv6.get_column("seg_hi"), seg, index.main.height
        )
        codes = codes.clone().scatter(rows, codes_v6)
        parsed = parsed.clone().scatter(rows, v6.is_not_null())
        further = pl.concat([further, further_v6.with_columns(pl.lit(rows.cast(pl.Int64)).gather(pl.col("row")).alias("row"))])
    dev_no = pl.select(pl.when(pl.lit(codes) >= 0).then(pl.lit(codes).cast(pl.Int64))).to_series()
    known = codes != NO_SEGMENT
    if further.height:  # by position in `keyed`, where dev_no is scattered
        records = further.select(
            pl.col("row").alias("pos"),
            pl.lit(seg.get_column("seg_no")).gather(pl.col("at")).alias("seg_no"),
            pl.lit(keyed.get_column("start_time")).gather(pl.col("row")).alias("start_time"),
            "digits",
        )
        dev_no, known = _fallback(con, records, dev_no, known)
    # lazily: new single-chunk columns are sliced to the frame's chunks; then every column is made one
    # piece, as pricing's NumPy steps read them (0.15 s at 10 M records: the keyed columns come in
    # hundreds of pieces from the streaming engine)
    return (
        keyed.lazy()
        .select(pl.exclude("subscriber_id", "id_key"))
        .with_columns(pl.lit(dev_no).alias("dev_no"), pl.lit(parsed).alias("id_parsed"), pl.lit(known).alias("id_known"))
        .collect()
        .rechunk()
    )


def _fallback(con: duckdb.DuckDBPyConnection, records: pl.DataFrame, dev_no: pl.Series, known: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(`dev_no`, `known`) with, for `records` (pos: position in dev_no), the next most specific
    ID that holds the record and is valid then filled in, and known where a further ID holds
    it at some time (sql/duck/assign/fallback.sql)."""
    con.register("fallback", records.select("pos", "seg_no", "start_time", "digits").to_arrow())
    found = con.sql(sql.load("duck/assign/fallback")).pl()
    con.unregister("fallback")
    if not found.height:
        return dev_no, known
    valid = found.filter(pl.col("dev_no").is_not_null())
    dev_no = dev_no.cast(pl.Int64).clone().scatter(valid.get_column("pos"), valid.get_column("dev_no").cast(pl.Int64))
    return dev_no, known.clone().scatter(found.get_column("pos"), True)


def assigned_usage(con: duckdb.DuckDBPyConnection, located: pl.DataFrame) -> None:
    """Register what the SQL of the stages after reads of the located records: `assigned_span`, one
    row (first_start, last_start) of the records with a device ID (NULLs: none), whose days pricing
    converts to local time and whose years' holidays it looks up; and `id_formats`.

    Not the records themselves: pricing takes them as the frame (located_usage makes its columns one
    piece each)."""
    span = located.lazy().filter(pl.col("dev_no").is_not_null()).select(
        pl.col("start_time").min().alias("first_start"), pl.col("start_time").max().alias("last_start")
    )
    con.register("assigned_span", span.collect().to_arrow())
    con.register("id_formats", pl.DataFrame({"id_type": list(FORMATS), "format": list(FORMATS.values())}).to_arrow())


def unassigned_only(con: duckdb.DuckDBPyConnection, located: pl.DataFrame) -> None:
    """Register `assignment` again with just the unassigned records of `located`: all that is read of
    it once the records are priced (their outcome, sql/duck/out/unassigned.sql), so the run need not
    keep every located record (0.5 GiB at 10 M records) to its end."""
    con.register("assignment", located.filter(pl.col("dev_no").is_null()).to_arrow())
