"""The interval machinery: flatten nested intervals into disjoint segments once, look keys up by sorting.

Intervals are ranked by their boundaries (Polars) and flattened in DuckDB
(sql/duck/interval_segments.sql): every segment knows its covering items, ranked most
specific first. `interval_lookup` finds the segment of millions of keys at once: it puts
the keys in order (one NumPy sort of packed key and row bits), finds their segments by
binary searches that, on ordered keys, read the segment starts sequentially, and scatters
the positions back to the keys' rows, so the result is row-aligned without a join on row
ids (docs/assignment.md).

The device index keeps, per segment, its two most specific IDs and their validity inline,
so `assigned_devices` resolves records in key order with sequential reads; only records
whose two best IDs both do not hold them at their start time (not valid then, or a phone
range's interval around a shorter number: keys.py) look further, in SQL
(sql/duck/assign/fallback.sql).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

import sql
from pipeline import engine
from pipeline.assign.keys import IPV6_MAX, MAX_DIGITS, digit_count, id_intervals, string_intervals
from pipeline.threads import in_pieces, over_pieces

#: Validity bounds as epoch microseconds; open ends are these sentinels.
OPEN_FROM = -(2**63)
OPEN_UNTIL = 2**63 - 1


def ranked_intervals(intervals: pl.DataFrame, first: int = 0) -> tuple[pl.DataFrame, pl.Series]:
    """`intervals` (lo, hi, …) in rank space, and the sorted distinct boundaries they were ranked among.

    The boundaries are every `lo` and every `hi + 1` (none past the largest key of the
    dtype); an interval covers the segments `seg_from` .. `seg_until - 1` (Int64, counted from
    `first`), segment s starting at boundary s. Rows without lo or hi are dropped.
    """
    intervals = intervals.filter(pl.col("lo").is_not_null() & pl.col("hi").is_not_null())
    lo, hi = intervals.get_column("lo"), intervals.get_column("hi")
    below_top = pl.select(pl.lit(hi) < pl.lit(_largest(hi.dtype), hi.dtype)).to_series()
    ends = _plus_one(hi.filter(below_top))
    # the dense rank of each start and end among all of them is its boundary's position
    ranks = (pl.concat([lo, ends]).rank("dense").cast(pl.Int64) - 1 + first).to_numpy()
    until = np.full(hi.len(), pl.concat([lo, ends]).n_unique() + first, dtype=np.int64)  # ending at the largest key: the last segment
    until[below_top.to_numpy()] = ranks[lo.len():]
    bounds = pl.concat([lo, ends]).unique().sort().rename("bound")
    return intervals.with_columns(pl.Series("seg_from", ranks[: lo.len()]), pl.Series("seg_until", until)), bounds


def flatten(con: duckdb.DuckDBPyConnection, items_table: str, ranked: pl.DataFrame) -> None:
    """Create `items_table` (seg_no, item, rank) from rank-space intervals (seg_from, seg_until, width, lo, item)."""
    con.register("intervals", ranked.select("seg_from", "seg_until", "width", "lo", "item").to_arrow())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {items_table} AS {sql.load('duck/interval_segments')}")
    con.unregister("intervals")


def build_segments(con: duckdb.DuckDBPyConnection, items_table: str, intervals: pl.DataFrame) -> int:
    """Flatten `intervals` (lo, hi, width, item; Int64 keys) into `items_table` (seg_no, seg_lo, seg_hi, item, rank).

    Returns the number of segments covered by some interval.
    """
    intervals = intervals.select(pl.col("lo", "hi").cast(pl.Int64), pl.col("width").cast(pl.Int64), pl.col("item").cast(pl.Int64))
    ranked, bounds = ranked_intervals(intervals)
    flatten(con, "_flat_items", ranked.with_columns(pl.col("seg_from").alias("lo")))
    con.register("_flat_bounds", _segment_bounds(bounds).to_arrow())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {items_table} AS "
        "SELECT f.seg_no, b.seg_lo, b.seg_hi, f.item, f.rank FROM _flat_items AS f JOIN _flat_bounds AS b USING (seg_no)"
    )
    con.unregister("_flat_bounds")
    con.execute("DROP TABLE _flat_items")
    return engine.one_row(con, f"SELECT count(DISTINCT seg_no) FROM {items_table}")[0]


def _segment_bounds(bounds: pl.Series) -> pl.DataFrame:
    """(seg_no, seg_lo, seg_hi) of the segment starting at each boundary (the last one ends at the dtype's largest key)."""
    return pl.DataFrame({"seg_lo": bounds}).select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("seg_no"),
        "seg_lo",
        (pl.col("seg_lo").shift(-1) - pl.lit(1, bounds.dtype)).fill_null(pl.lit(_largest(bounds.dtype), bounds.dtype)).alias("seg_hi"),
    )


def _largest(dtype: pl.DataType) -> int:
    return IPV6_MAX if dtype == pl.Int128 else 2**63 - 1


def interval_lookup(keys: pl.Series, seg_lo: pl.Series, seg_hi: pl.Series) -> pl.Series:
    """For each key, 1 + the position in `seg_lo` of the segment holding it, or 0 where none (UInt32, row-aligned).

    Args:
        keys: Int64 or Int128 keys, nulls allowed (they find nothing).
        seg_lo, seg_hi: bounds of disjoint segments (same dtype as keys), sorted by seg_lo.

    The result indexes a table whose row 0 stands for "no segment", so gathers need no
    null handling.
    """
    if keys.dtype == seg_lo.dtype == seg_hi.dtype == pl.Int64 and 0 < seg_lo.len() <= SEARCH_SEGMENTS:
        if not seg_lo.null_count() and not seg_hi.null_count():
            return _searched(keys, seg_lo, seg_hi)
    order, position, _ = _sorted_positions(keys, seg_lo, seg_hi)
    return _unsorted(order, position, keys.len(), 0).rename("position")


#: Up to this many segments (destination zones: thousands) each key is binary-searched where it
#: stands, in pieces on both cores: the segment starts stay in the CPU's cache, and that beats
#: sorting the keys (2.3x at 8 k segments, even at 100 k; measured on 10 M keys).
SEARCH_SEGMENTS = 1 << 15


#: From this many keys on, a search in few segments first looks the key's bucket up (_Buckets).
BUCKETED_KEYS = 1 << 16
#: Buckets: at most 2^BUCKET_BITS; a key whose bucket holds more than BUCKET_STEPS segment starts
#: is binary-searched as before.
BUCKET_BITS, BUCKET_STEPS = 20, 4


def _searched(keys: pl.Series, seg_lo: pl.Series, seg_hi: pl.Series) -> pl.Series:
    """interval_lookup of Int64 keys in a few segments: a search per key (by bucket, _Buckets, when
    there are many keys; else binary), in pieces on both cores."""
    values = keys.fill_null(0).to_numpy()
    present = keys.is_not_null().to_numpy() if keys.null_count() else None  # a null finds nothing
    starts, upper = _bounds(seg_lo, seg_hi)
    position = np.empty(len(values), dtype=np.uint32)
    buckets = _Buckets.of(starts) if len(values) >= BUCKETED_KEYS else None

    def search(at: slice) -> None:
        found = _segment_of(values[at], starts, upper, buckets)
        position[at] = found if present is None else np.where(present[at], found, 0)

    in_pieces(len(values), search)
    return pl.Series("position", position)


def _bounds(seg_lo: pl.Series, seg_hi: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(segment starts, segment ends behind a row 0 that holds nothing) for _segment_of."""
    return seg_lo.to_numpy(), np.concatenate([np.array([OPEN_FROM], dtype=np.int64), seg_hi.to_numpy()])


def _segment_of(values: np.ndarray, starts: np.ndarray, upper: np.ndarray, buckets: _Buckets | None = None) -> np.ndarray:
    """1 + the position of the segment holding each Int64 value (0: none): the last segment starting
    at or below it (a binary search, or by `buckets`), which holds it if it ends at or above it."""
    found = np.searchsorted(starts, values, side="right") if buckets is None else buckets.started(values)
    return np.where(values <= upper[found], found, 0)


@dataclass(frozen=True)
class _Buckets:
    """The segment starts at or below a value, found by the value's bucket: a key's offset from the
    first start, shifted right so that the starts' span takes at most 2^BUCKET_BITS buckets.

    `first` and `last` count the starts at or below a bucket's lowest and highest value, so a
    value's count lies between its bucket's two: where they are equal (most buckets: a few
    thousand zone prefixes in a million buckets) one gather gives it; elsewhere it steps up one
    start at a time, at most BUCKET_STEPS times, and a bucket holding more starts falls back to
    the binary search. A binary search per key over thousands of starts mispredicts a branch at
    nearly every step: on the bench's called numbers in 7 851 zone segments this is 2-3x faster
    (19-29 against 62 ms per million keys, docs/performance.md).
    """

    low: int
    shift: int
    #: per bucket, and for a last bucket past the last start (len(starts) in both)
    first: np.ndarray
    last: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, starts: np.ndarray) -> _Buckets:
        """The buckets of sorted, non-empty Int64 `starts`."""
        low, span = int(starts[0]), int(starts[-1]) - int(starts[0])
        bits = min(BUCKET_BITS, len(starts).bit_length() + 7)
        shift = max(0, span.bit_length() - bits)
        n = (span >> shift) + 1
        # bucket b holds the offsets [b << shift, (b + 1) << shift), cut at the last start's (all in Int64)
        offsets = np.arange(n, dtype=np.uint64) << np.uint64(shift)
        lowest = (offsets + np.uint64(low % 2**64)).view(np.int64)
        highest = (np.minimum(offsets + np.uint64((1 << shift) - 1), np.uint64(span)) + np.uint64(low % 2**64)).view(np.int64)
        first, last = (np.append(np.searchsorted(starts, v, side="right"), len(starts)).astype(np.int32) for v in (lowest, highest))
        return cls(low, shift, first, last, starts)

    def started(self, values: np.ndarray) -> np.ndarray:
        """How many starts lie at or below each value: np.searchsorted(starts, values, side="right")."""
        starts = self.starts
        # unsigned: the offset from the first start fits even where the values span all of Int64
        bucket = values.view(np.uint64) - np.uint64(self.low % 2**64)
        bucket >>= np.uint64(self.shift)
        np.minimum(bucket, len(self.first) - 1, out=bucket)  # the last bucket: past the last start
        bucket = bucket.view(np.int64)  # below 2^31 now: NumPy takes it as an index without a cast
        found, last = self.first[bucket], self.last[bucket]
        below = np.flatnonzero(values < self.low)  # their offsets wrapped around: they come before every start
        found[below], last[below] = 0, 0
        open_ = np.flatnonzero(found != last)
        if open_.size:
            steps = last[open_] - found[open_]
            few = steps <= BUCKET_STEPS
            stepped, searched = open_[few], open_[~few]
            at, v, top = found[stepped], values[stepped], last[stepped]
            for _ in range(int(steps[few].max(initial=0))):
                at = np.minimum(at + (starts[np.minimum(at, len(starts) - 1)] <= v), top)
            found[stepped] = at
            found[searched] = np.searchsorted(starts, values[searched], side="right")
        return found


def _sorted_positions(keys: pl.Series, seg_lo: pl.Series, seg_hi: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(order, position, ordered): the non-null keys' rows in (nearly) key order, for each 1 + its
    segment's position (0: none), and the keys themselves in that order.

    Int64 keys are put in order by one NumPy sort of packed (key, row) integers
    (_packed_order): nearly in key order, which is all the merge needs. Other keys (IPv6's
    Int128) are sorted by Polars.
    """
    n_keys = keys.len() - keys.null_count()
    if not n_keys or not seg_lo.len():
        return keys.is_not_null().arg_true(), pl.repeat(0, n_keys, dtype=pl.UInt32, eager=True), keys.drop_nulls()
    if keys.dtype == seg_lo.dtype == seg_hi.dtype == pl.Int64 and not seg_lo.null_count() and not seg_hi.null_count():
        return _packed_positions(keys, seg_lo, seg_hi)
    # the sorted keys and the permutation in one parallel pass (equal keys are equal, so they align)
    # (no .head() inside: Polars would turn sort + head into a much slower top-k)
    both = pl.select(
        pl.lit(keys).sort(nulls_last=True).alias("ordered"), pl.lit(keys).arg_sort(nulls_last=True).alias("order")
    ).head(n_keys)
    ordered = both.get_column("ordered")
    # the first sorted key at or after each segment start; a sorted key's segment is the last one started
    starts = ordered.search_sorted(seg_lo, side="left").rename("start").value_counts(name="n")
    started = pl.repeat(0, n_keys + 1, dtype=pl.UInt32, eager=True).scatter(
        starts.get_column("start"), starts.get_column("n").cast(pl.UInt32)
    )
    upper = pl.concat([pl.Series([None], dtype=seg_hi.dtype), seg_hi])
    position = (
        pl.LazyFrame({"p": started.head(n_keys).cum_sum(), "key": ordered})
        .select(pl.when(pl.col("key") <= pl.lit(upper).gather(pl.col("p"))).then(pl.col("p")).otherwise(0))
        .collect()
        .to_series()
    )
    return both.get_column("order"), position, ordered


def _packed_positions(keys: pl.Series, seg_lo: pl.Series, seg_hi: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """_sorted_positions of Int64 keys: in nearly key order, each key's segment by a binary search
    that, on keys in order, reads the segment starts sequentially (NumPy's searchsorted)."""
    rows = keys.is_not_null().arg_true().to_numpy() if keys.null_count() else None
    values = (keys.drop_nulls() if rows is not None else keys).to_numpy()
    order = _packed_order(values)
    ordered = values[order]
    position = _segment_of(ordered, *_bounds(seg_lo, seg_hi)).astype(np.uint32)
    order = rows[order] if rows is not None else order.astype(np.uint32)
    return pl.Series(order, dtype=pl.UInt32), pl.Series(position, dtype=pl.UInt32), pl.Series(ordered, dtype=pl.Int64)


def _packed_order(values: np.ndarray) -> np.ndarray:
    """The positions of `values` (Int64) in nearly ascending order: by the value's top bits, then position.

    One sort of UInt64s that hold (value - min) >> shift above the position: 5× faster than an
    argsort, and exact when the values span few enough bits; otherwise values that differ only
    in their `shift` lowest bits keep their positions' order, which the binary search that
    follows does not mind (it finds every key's segment, it just reads less sequentially).
    Polars sorts them: 15 ms for a piece of 620 k values where NumPy took 30 ms (on the bench,
    located_usage median 0.774 -> 0.666 s, 1.33 -> 1.12 cpu-s over 5 alternations).
    """
    n = len(values)
    bits = max(1, (n - 1).bit_length())
    low = int(values.min())
    span = int(values.max()) - low
    shift = max(0, span.bit_length() + bits - 64)
    # unsigned: the offsets from the minimum fit even when the values span the whole Int64 range
    packed = (values.view(np.uint64) - np.uint64(low % 2**64)) >> np.uint64(shift)
    packed <<= np.uint64(bits)
    packed |= np.arange(n, dtype=np.uint64)
    ordered = pl.Series(packed).sort().to_numpy()
    return (ordered & np.uint64((1 << bits) - 1)).view(np.int64)  # the positions, below 2^63: read as Int64


def _unsorted(order: pl.Series, values: pl.Series, n: int, missing: int) -> pl.Series:
    """`values` (in the order of `order`) scattered back to their rows; rows not in `order` get `missing`.

    A NumPy scatter: twice as fast as Polars' here.
    """
    given = values.to_numpy()
    out = np.empty(n, dtype=given.dtype) if order.len() == n else np.full(n, missing, dtype=given.dtype)
    out[order.to_numpy()] = given
    return pl.Series(values.name, out)


#: assigned_devices codes besides a dev_no
NOT_VALID, NO_SEGMENT = -1, -2
#: The `min_digits` of no ID: more digits than any key has (keys.digit_count is at most 15).
NEVER_HELD = MAX_DIGITS + 1


#: Most rows per piece of a lookup, in equal pieces looked up two at a time (the sorts and
#: scatters are cheaper in pieces, and the steps Polars runs on one thread overlap). A piece's
#: keys (5 MB) stay in the CPU's caches while they are sorted, searched and scattered back: on the
#: bench's 10 M keys, 16 pieces took 0.75-0.94 s and 1.3-1.7 cpu-s, 4 pieces of 2.5 M 0.90-1.33 s
#: and 1.65-2.35 cpu-s, 64 pieces 0.97-1.14 s (docs/performance.md, eighteenth session).
LOOKUP_ROWS = 625_000


def assigned_devices(
    keys: pl.Series, start_us: pl.Series, seg_lo: pl.Series, seg_hi: pl.Series, segments: pl.DataFrame, first: int = 0
) -> tuple[pl.Series, pl.DataFrame]:
    """Each key's device ID: of its segment's best two, the most specific that holds the key and
    is valid at the key's start time.

    An ID holds the keys of its segments with at least its `min_digits` digits (keys.py: a
    phone range's interval also spans shorter numbers). Works in key order, where the
    segments' columns are read sequentially, and scatters one code per row back: the dev_no;
    NOT_VALID where one of the two holds the key but is not valid then; NO_SEGMENT where
    neither holds it (no segment, a null key, or a number shorter than both).

    Args:
        keys, start_us: per row; start times as epoch microseconds.
        seg_lo, seg_hi: this key space's segments; segment i is row `first + i + 1` of `segments`.
        segments: DeviceIndex.segments.
    Returns:
        (codes, further): `further` has the rows (`row`, Int64) neither of whose two best IDs
        holds them then but whose segment (`at`, row of `segments`) has more IDs to try, with
        the key's digit count (`digits`, Int8).
    """
    n = keys.len()
    if n <= LOOKUP_ROWS:
        return _assigned_piece(keys, start_us, seg_lo, seg_hi, segments, first)

    def piece(at: slice) -> tuple[int, tuple[pl.Series, pl.DataFrame]]:
        size = at.stop - at.start
        return at.start, _assigned_piece(keys.slice(at.start, size), start_us.slice(at.start, size), seg_lo, seg_hi, segments, first)

    pieces = -(-n // LOOKUP_ROWS)
    done = over_pieces(n, piece, rows=-(-n // pieces))  # equal pieces of at most LOOKUP_ROWS
    codes = pl.concat([piece_codes for _, (piece_codes, _) in done])
    further = pl.concat([rows.with_columns(pl.col("row") + start) for start, (_, rows) in done])
    return codes, further


def _assigned_piece(
    keys: pl.Series, start_us: pl.Series, seg_lo: pl.Series, seg_hi: pl.Series, segments: pl.DataFrame, first: int
) -> tuple[pl.Series, pl.DataFrame]:
    """assigned_devices of one piece (rows counted from the piece's start)."""
    order, position, ordered = _sorted_positions(keys, seg_lo, seg_hi)
    seg = lambda name: pl.lit(segments.get_column(name)).gather(pl.col("at"))  # noqa: E731 - a local shorthand
    at = pl.col("p") if first == 0 else pl.when(pl.col("p") > 0).then(pl.col("p") + first).otherwise(0)
    ranked = (
        pl.LazyFrame({"p": position, "key": ordered})
        .select(at.cast(pl.UInt32).alias("at"), "key")
        .select("at", seg("c1_dev").alias("code"), (digit_count(pl.col("key")) < seg("check_below")).alias("check"))
        .collect()
    )
    # only records the best ID may not hold need the start time, the one random read per row:
    # when it has a validity window, or the record is a shorter number than it holds
    checked = ranked.get_column("check").arg_true()
    codes = ranked.get_column("code")
    further = pl.DataFrame(schema={"row": pl.Int64, "at": pl.UInt32, "digits": pl.Int8})
    if checked.len():
        t, n = pl.col("t"), pl.col("n")
        holds1 = (n >= seg("c1_min")) & (t >= seg("c1_from")) & (t < seg("c1_until"))
        holds2 = (n >= seg("c2_min")) & (t >= seg("c2_from")) & (t < seg("c2_until"))
        known = (n >= seg("c1_min")) | (n >= seg("c2_min"))  # held at some time
        not_held = (
            pl.DataFrame({"j": checked, "at": ranked.get_column("at").gather(checked), "row": order.gather(checked), "key": ordered.gather(checked)})
            .lazy()
            .with_columns(pl.lit(start_us).gather(pl.col("row")).alias("t"), digit_count(pl.col("key")).cast(pl.Int8).alias("n"))
            .filter(~holds1)
            .with_columns(
                pl.when(holds2).then(seg("c2_dev")).when(known).then(pl.lit(NOT_VALID, pl.Int32)).otherwise(pl.lit(NO_SEGMENT, pl.Int32)).alias("code"),
                seg("deeper").alias("deeper"),
            )
            .collect()
        )
        codes = codes.clone().scatter(not_held.get_column("j"), not_held.get_column("code"))
        further = not_held.filter((pl.col("code") < 0) & pl.col("deeper")).select(pl.col("row").cast(pl.Int64), "at", pl.col("n").alias("digits"))
    return _unsorted(order, codes, keys.len(), NO_SEGMENT), further


def segment_items(con: duckdb.DuckDBPyConnection, segments: str) -> pl.DataFrame:
    """(seg_lo, seg_hi, item) of `segments` (a table or view on `con`), sorted: what item_lookup searches."""
    return con.sql(f"SELECT seg_lo, seg_hi, item FROM {segments} ORDER BY seg_lo").pl()


def item_lookup(keys: pl.Series, table: pl.DataFrame) -> pl.Series:
    """The interval join: for each key, the `item` of the segment of `table` (segment_items: disjoint
    seg_lo, seg_hi, item) holding it (null: none), row-aligned. Needs no connection."""
    position = interval_lookup(keys, table.get_column("seg_lo").cast(keys.dtype), table.get_column("seg_hi").cast(keys.dtype))
    items = pl.concat([pl.Series([None], dtype=pl.Int64), table.get_column("item").cast(pl.Int64)])
    return items.gather(position).rename("item")


@dataclass(frozen=True)
class DeviceIndex:
    """The flattened device IDs, ready for lookups.

    `main` and `ipv6` hold the bounds (`seg_lo`, `seg_hi`, keys) of the segments covered by
    IDs of that key space, sorted. `segments` holds per segment, in the same order (row 0
    "no segment", then the main ones, then IPv6; interval_lookup's positions index it):
    `seg_no`; its most specific ID `c1_dev`, that one's validity `c1_from`/`c1_until` (epoch µs,
    open ends as sentinels) and the fewest digits of a key it holds `c1_min` (keys.py); the
    second ID `c2_dev` with `c2_from`/`c2_until`/`c2_min` (none: never valid, holds nothing);
    `deeper` (more IDs cover it); `check_below`: records whose key has fewer digits than this
    are checked against c1's validity and digits (16, all, when c1 has a validity window; else
    c1_min, a number shorter than c1 holds; 0, none).
    `strings` maps string IDs (`value`) to their keys. `intervals` is the `device_intervals`
    table build_device_index registers (pricing and the fallback read it), kept so a cached
    index can register it again (pipeline/io/index_cache.py).
    """

    main: pl.DataFrame
    ipv6: pl.DataFrame
    segments: pl.DataFrame
    strings: pl.DataFrame
    intervals: pl.DataFrame


def device_intervals(device_ids: pl.DataFrame, usage_tariffs: pl.DataFrame | None = None) -> pl.DataFrame:
    """One key interval per valid catalog device-ID row and usage tariff, numbered `dev_no` in catalog order.

    A row whose contract changes its usage tariff (`usage_tariffs`, pipeline.catalog.USAGE_TARIFFS)
    is split at the changes inside its validity: each slice keeps the ID and carries the tariff
    valid then (`tariff_id`; null: the contract's own), so a record picks its tariff by the
    assignment it gets anyway, with no per-record work. Rows whose ID does not parse are left
    out (catalog validation reports them).
    """
    framed = id_intervals(device_ids)
    ranged = pl.col("id_to").is_not_null()
    rows = framed.filter(pl.col("lo").is_not_null()).select(
        "contract_id",
        "id_type",
        pl.when(ranged).then(pl.format("{}-{}", "id_value", "id_to")).otherwise(pl.col("id_value")).alias("matched_id"),
        "match_kind",
        "valid_from",
        "valid_until",
        "space",
        "lo",
        "hi",
        "min_digits",
    )
    sliced = tariff_slices(rows, usage_tariffs) if usage_tariffs is not None and usage_tariffs.height else rows.with_columns(
        pl.lit(None, pl.String).alias("tariff_id")
    )
    return sliced.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("dev_no"), pl.all())


def tariff_slices(rows: pl.DataFrame, usage_tariffs: pl.DataFrame) -> pl.DataFrame:
    """`rows` (contract_id, valid_from, valid_until as UTC instants, …) cut where their contract's
    usage tariff changes, in row order then time, with the `tariff_id` of each slice (null: none of
    `usage_tariffs` applies). A tariff version's days start at 00:00 UTC (docs/billing.md)."""
    versions = usage_tariffs.select(
        "contract_id", "tariff_id",
        pl.col("valid_from").cast(_UTC).alias("_v_from"), pl.col("valid_until").cast(_UTC).alias("_v_until"),
    )
    cuts = pl.concat([versions.select("contract_id", pl.col("_v_from").alias("_at")),
                      versions.select("contract_id", pl.col("_v_until").alias("_at"))]).drop_nulls().unique()
    rows = rows.with_row_index("_row")
    inside = (pl.col("valid_from").is_null() | (pl.col("_at") > pl.col("valid_from"))) & (
        pl.col("valid_until").is_null() | (pl.col("_at") < pl.col("valid_until"))
    )
    starts = pl.concat([
        rows.select("_row", pl.col("valid_from").alias("_at")),
        rows.select("_row", "contract_id", "valid_from", "valid_until").join(cuts, on="contract_id").filter(inside).select("_row", "_at"),
    ]).sort("_row", "_at", nulls_last=False)
    last = pl.int_range(pl.len()).over("_row") == pl.len().over("_row") - 1
    slices = starts.with_columns(
        pl.when(last).then(None).otherwise(pl.col("_at").shift(-1).over("_row")).alias("_next"), last.alias("_last")
    ).join(rows, on="_row", maintain_order="left")
    slices = slices.with_columns(
        pl.col("_at").alias("valid_from"),
        pl.when(pl.col("_last")).then(pl.col("valid_until")).otherwise(pl.col("_next")).alias("valid_until"),
    )
    # a slice lies inside one version or outside all of them: its start tells which
    tariffs = slices.select("_row", "_at", "contract_id").join(versions, on="contract_id").filter(
        pl.col("_at").is_not_null() & (pl.col("_at") >= pl.col("_v_from"))
        & (pl.col("_v_until").is_null() | (pl.col("_at") < pl.col("_v_until")))
    ).select("_row", "_at", "tariff_id")
    return slices.join(tariffs, on=["_row", "_at"], how="left", nulls_equal=True, maintain_order="left").select(
        *rows.drop("_row").columns, "tariff_id"
    )


_UTC = pl.Datetime("us", "UTC")


def build_device_index(con: duckdb.DuckDBPyConnection, device_ids: pl.DataFrame, usage_tariffs: pl.DataFrame | None = None) -> DeviceIndex:
    """Flatten the device IDs into segments; creates `device_intervals`, `device_items`, `device_segments` on `con`.

    DuckDB never sees a 128-bit key: both key spaces are flattened in rank space (IPv6
    ranks after the main ones) and their segments mapped back to keys here.

    Args:
        usage_tariffs: the catalog's usage-tariff timeline (Catalog.usage_tariffs) the IDs are
            sliced by (see device_intervals); default: `cat_usage_tariffs` when the catalog is
            registered on `con` (Catalog.register), else none.
    """
    if usage_tariffs is None:
        usage_tariffs = registered_usage_tariffs(con)
    # hi - lo wraps around for blocks of half the IPv6 space or more; those are the widest
    wrapped = pl.col("hi") - pl.col("lo")
    intervals = device_intervals(device_ids, usage_tariffs).with_columns(
        pl.struct((wrapped < 0).alias("huge"), wrapped.alias("w")).rank("dense").cast(pl.Int64).alias("width")
    )
    is_v6 = pl.col("space") == 1
    main, main_bounds = ranked_intervals(intervals.filter(~is_v6).with_columns(pl.col("lo", "hi").cast(pl.Int64)))
    v6, v6_bounds = ranked_intervals(intervals.filter(is_v6), first=main_bounds.len())
    registered = intervals.select(
        pl.exclude("lo", "hi", "space", "width"),
        # the main-space keys, for pricing's area codes (dims.sql); IPv6 keys do not fit a BIGINT
        pl.when(~is_v6).then(pl.col("lo")).cast(pl.Int64).alias("lo"),
        pl.when(~is_v6).then(pl.col("hi")).cast(pl.Int64).alias("hi"),
    )
    con.register("device_intervals", registered.to_arrow())
    ranked = pl.concat([part.select("seg_from", "seg_until", "width", pl.col("seg_from").alias("lo"), pl.col("dev_no").alias("item")) for part in (main, v6)])
    flatten(con, "device_items", ranked)
    con.register("device_validity", device_validity(registered).to_arrow())
    con.execute(f"CREATE OR REPLACE TEMP TABLE device_segments AS {sql.load('duck/device_segments')}")
    segments = con.sql("SELECT * FROM device_segments ORDER BY seg_no").pl()
    covered = segments.get_column("seg_no") - 1  # the rank of each covered segment's first boundary
    is_main = covered < main_bounds.len()
    return DeviceIndex(
        main=_covered_bounds(_segment_bounds(main_bounds), covered.filter(is_main)),
        ipv6=_covered_bounds(_segment_bounds(v6_bounds), covered.filter(~is_main) - main_bounds.len()),
        segments=pl.concat(
            [
                # row 0, "no segment"
                pl.DataFrame({"seg_no": [None], "c1_dev": [NO_SEGMENT], "check_below": [0], "c1_from": [OPEN_FROM], "c1_until": [OPEN_UNTIL],
                              "c1_min": [0], "c2_dev": [None], "c2_from": [OPEN_UNTIL], "c2_until": [OPEN_FROM], "c2_min": [NEVER_HELD],
                              "deeper": [False]}),
                segments.select(
                    "seg_no",
                    "c1_dev",
                    pl.when((pl.col("c1_from") > OPEN_FROM) | (pl.col("c1_until") < OPEN_UNTIL)).then(NEVER_HELD).otherwise(pl.col("c1_min")).alias("check_below"),
                    "c1_from", "c1_until", "c1_min", "c2_dev", "c2_from", "c2_until", "c2_min", "deeper",
                ),
            ],
            how="vertical_relaxed",
        ).cast({"seg_no": pl.Int64, "c1_dev": pl.Int32, "c2_dev": pl.Int32, "check_below": pl.Int8, "c1_from": pl.Int64, "c1_until": pl.Int64,
                "c1_min": pl.Int8, "c2_from": pl.Int64, "c2_until": pl.Int64, "c2_min": pl.Int8}),
        strings=string_intervals(device_ids),
        intervals=registered,
    )


def device_validity(intervals: pl.DataFrame) -> pl.DataFrame:
    """(dev_no, from_us, until_us, min_digits): which of its keys each device ID holds when: its
    validity as epoch µs, open ends as the sentinels, and the fewest digits of a key it holds."""
    return intervals.select(
        "dev_no",
        pl.col("valid_from").dt.epoch("us").fill_null(OPEN_FROM).alias("from_us"),
        pl.col("valid_until").dt.epoch("us").fill_null(OPEN_UNTIL).alias("until_us"),
        "min_digits",
    )


def device_segments_table(index: DeviceIndex) -> pl.DataFrame:
    """The `device_segments` table build_device_index created, recovered from `index.segments`
    (without row 0 and `check_below`, the IDs back as BIGINT), so a cached index recreates it exactly."""
    return index.segments.slice(1).select(
        "seg_no", pl.col("c1_dev").cast(pl.Int64), "c1_from", "c1_until", "c1_min",
        pl.col("c2_dev").cast(pl.Int64), "c2_from", "c2_until", "c2_min", "deeper",
    )


def registered_usage_tariffs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """The usage-tariff timeline Catalog.register put on `con`, if it did."""
    known = engine.one_row(con, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'cat_usage_tariffs'")[0]
    return con.table("cat_usage_tariffs").pl() if known else None


def _covered_bounds(bounds: pl.DataFrame, covered: pl.Series) -> pl.DataFrame:
    """The key bounds of the covered segments (by boundary rank), in key order."""
    return bounds.select("seg_lo", "seg_hi").gather(covered)


def _plus_one(keys: pl.Series) -> pl.Series:
    """keys + 1 (Int128 Series arithmetic needs an expression)."""
    return pl.select(pl.lit(keys) + pl.lit(1, keys.dtype)).to_series()
