"""Free quantities and volume tiers: the records of each group in time order, as whole columns.

A group is one contract, tariff-article and billing period. Its records are walked in time
order (start to the millisecond, then input row): the free quantity is used up first, the
record that crosses it split into a free and a charged part; the charged units then climb the
volume tiers (docs/pricing.md). A group where no threshold lies inside its units gets the same
in any order and is settled without a sort (settled); the others are sorted by group and time
(walk_order) and walked in that order, whole groups at a time, and the walk's running sums need
no sort; everything else is whole-column arithmetic and lookups in the small tier table;
pipeline/price/records.py writes the results back to the records' rows.

No rounding happens here: the walk says which units are charged at which unit price (at most
two tier parts per record plus the full tiers between them), and pipeline/price/records.py
turns that into money with the one rounding rule (records.div_half_up).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from pipeline.threads import in_pieces
from schemas.pricing import TIER_UNIT_BITS

#: Tier methods as codes.
GRADUATED, VOLUME = 1, 2
#: Price source code of the tariff level (schemas.pricing.PRICE_SOURCES, 1-based): only it is tiered.
TARIFF = 6
#: Tier positions are keyed (tariff-article << UNIT_BITS) | units. Tiers start below 2^UNIT_BITS
#: units (schemas/pricing.py checks from_quantity), so a group's units beyond that are looked up
#: as 2^UNIT_BITS - 1: they lie in its last tier all the same.
UNIT_BITS = TIER_UNIT_BITS
UNIT_CAP = (1 << UNIT_BITS) - 1
#: What the tiers below a tier cost (micro-units · units) passes 2^63 for wide tiers (5.00 per 10^9 B
#: for a TB is 5·10^18), so it is held as two 64-bit words: hi · WORD + lo (sql/duck/dims.sql tier_dim).
WORD_BITS = 62
#: Group keys are (contract << CONTRACT_SHIFT) + (tariff-article << TA_SHIFT) + month (the SQL
#: macro group_key of sql/duck/price/macros.sql, which keys the units carried in from earlier runs).
CONTRACT_SHIFT, TA_SHIFT = 36, 16
#: Contract and tariff-article numbers the packed keys hold: the group key's, and the tier key's
#: (tariff-article << UNIT_BITS) | units.
CONTRACT_BITS, TA_BITS = 63 - CONTRACT_SHIFT, min(CONTRACT_SHIFT - TA_SHIFT, 63 - UNIT_BITS)


@dataclass(frozen=True)
class Rules:
    """Per tariff-article (indexed by ta_no) and per tier (sorted by ta_no, lo) what the walk needs."""

    free_q: np.ndarray
    method: np.ndarray
    tier_key: np.ndarray
    tier_no: np.ndarray
    tier_lo: np.ndarray
    tier_hi: np.ndarray
    tier_price: np.ndarray
    tier_fee: np.ndarray
    tier_cost_hi: np.ndarray
    tier_cost_lo: np.ndarray
    tier_fees_through: np.ndarray


def rules(ta: pl.DataFrame, tiers: pl.DataFrame) -> Rules:
    """Lookup arrays from ta_dim (ta_no, free_q, tier_method) and tier_dim (ta_no, tier_no, lo, hi,
    price_micro, fee_micro, cost_hi, cost_lo, fees_through)."""
    size = int(ta.get_column("ta_no").max() or 0) + 1
    free_q = np.zeros(size, dtype=np.int64)
    free_q[ta.get_column("ta_no").to_numpy()] = ta.get_column("free_q").cast(pl.Int64).to_numpy()
    method = np.zeros(size, dtype=np.int64)
    codes = ta.get_column("tier_method").replace_strict({"graduated": GRADUATED, "volume": VOLUME}, default=0, return_dtype=pl.Int64)
    method[ta.get_column("ta_no").to_numpy()] = codes.to_numpy()
    tiers = tiers.sort("ta_no", "lo")

    def col(name: str) -> np.ndarray:
        return tiers.get_column(name).cast(pl.Int64).to_numpy()

    return Rules(
        free_q=free_q,
        method=method,
        tier_key=(col("ta_no") << UNIT_BITS) | col("lo"),
        tier_no=col("tier_no"),
        tier_lo=col("lo"),
        tier_hi=col("hi"),
        tier_price=col("price_micro"),
        tier_fee=col("fee_micro"),
        tier_cost_hi=col("cost_hi"),
        tier_cost_lo=col("cost_lo"),
        tier_fees_through=col("fees_through"),
    )


@dataclass(frozen=True)
class Walked:
    """What the walk says of the counted records, row-aligned with them: their free units, and
    for the `tiered` ones (positions among them) the tier parts their charged units fall in.

    A counted record that is not tiered has all its other units charged at its own price. A
    tiered one has p1 × u1 + p2 × u2 + mid (micro-units · units): at most two tier parts and the
    full tiers between them (mid = mid_hi · 2^WORD_BITS + mid_lo: it may pass 2^63); plus
    tier_fee; tier_no is the tier its last unit lies in, unit_price that tier's price,
    tier_before the unit the record starts at when it spans tiers (-1: it does not).
    """

    free: np.ndarray
    tiered: np.ndarray
    p1: np.ndarray
    u1: np.ndarray
    p2: np.ndarray
    u2: np.ndarray
    mid_hi: np.ndarray
    mid_lo: np.ndarray
    tier_fee: np.ndarray
    tier_no: np.ndarray
    tier_before: np.ndarray
    unit_price: np.ndarray


def check_key_space(contracts: int, tariff_articles: int) -> None:
    """Refuse a catalog whose largest contract or tariff-article number (tariffs × articles) the
    packed keys cannot hold: its groups and invoice lines would run into each other."""
    if contracts >> CONTRACT_BITS or tariff_articles >> TA_BITS:
        raise ValueError(
            f"the catalog numbers {contracts} contracts and {tariff_articles} tariff-article pairs (tariffs × articles); "
            f"pricing packs them into 64-bit keys, which hold fewer than 2^{CONTRACT_BITS} contracts and 2^{TA_BITS} pairs"
        )


def group_key(contract: np.ndarray, ta: np.ndarray, month: np.ndarray) -> np.ndarray:
    """The number of a record's group: the SQL macro group_key of sql/duck/price/macros.sql (carried units are keyed by it)."""
    return (contract.astype(np.int64) << CONTRACT_SHIFT) + (ta.astype(np.int64) << TA_SHIFT) + month


def walked(gk: np.ndarray, quantity: np.ndarray, src: np.ndarray, rules: Rules, carried: pl.DataFrame | None = None) -> Walked:
    """The walk of counted records given in walk order (walk_order), whole groups only: their
    group keys (group_key), rated quantities and price sources (pipeline/price/records.py).

    Args:
        carried: (gk, q_before): units earlier runs rated in a group.
    """
    cum, total = _running_sums(gk, quantity)
    ta = (gk >> TA_SHIFT) & ((1 << (CONTRACT_SHIFT - TA_SHIFT)) - 1)  # months stay below 2^TA_SHIFT (years 2000-2100)
    free_left, t0 = _after_earlier(rules.free_q[ta], _carried(gk, carried))  # t0: charged units of earlier runs
    done = cum - quantity  # units of the group before the record
    free = np.clip(free_left - done, 0, quantity)
    a = np.maximum(done - free_left, 0)  # charged units of the group before the record, and up to its end
    b = np.maximum(cum - free_left, 0)
    if t0 is not None:
        a, b = a + t0, b + t0
    method = rules.method[ta]
    tiered = np.flatnonzero((src == TARIFF) & (method > 0) & (b > a))
    t_end = np.maximum(total[tiered] - free_left[tiered], 0)
    if t0 is not None:
        t_end += t0[tiered]
    return Walked(free, tiered, *_tiers(rules, ta[tiered], method[tiered], a[tiered], b[tiered], t_end))


#: Codes walk.settled gives a counted record: its group needs the walk (UNSETTLED); every unit of the
#: group is free (ALL_FREE); none is free and no tier applies (UNTIERED); else (0 and up) none is free
#: and every charged unit lies in one tier, this one (an index into Rules' tier arrays).
UNSETTLED, ALL_FREE, UNTIERED = -1, -2, -3
#: settled numbers the groups densely (contract, tariff-article with rules, month), one 64-bit sum each;
#: beyond this many numbers per counted record (a catalog of very many contracts, tariff-articles or
#: months against few records) it leaves every group to the walk.
GROUP_SPREAD = 4
#: Records per piece where settled sums units: their quantities gathered in the CPU's cache.
PIECE = 1 << 16


def settled(
    contract: np.ndarray, ta: np.ndarray, month: np.ndarray, rows: np.ndarray, quantity: np.ndarray, rules: Rules, carried: pl.DataFrame | None = None
) -> np.ndarray | None:
    """Per counted record (`rows`: ascending positions in the arrays) what the walk would say of it
    without walking it, where its group's order cannot matter; None: every group needs the walk.

    A group's order matters only where a threshold lies inside its units: its free quantity ends
    within them (the crossing record is split), or, none free, its charged units [c0, c1) (c0: what
    earlier runs charged) cross a graduated tier's boundary, or start at the first unit of a
    graduated tier with a flat fee, or hold the first unit of the volume tier they reach while it
    has a flat fee (its record pays it). Elsewhere every record gets the same: all its units free
    (ALL_FREE), or none free and all charged at the one tier's price with no fee (its index), or
    none free and no tiers (UNTIERED); those groups need no sort (the pricing benchmark: half its
    7.8 M walked records). Each group's units are summed by a dense number, in one pass."""
    m = rows.size
    walked_ta = np.flatnonzero((rules.free_q > 0) | (rules.method > 0))
    if m == 0 or walked_ta.size == 0:
        return None
    m0 = int(month.min())
    months = int(month.max()) - m0 + 1
    per_contract = walked_ta.size * months
    size = (int(contract.max()) + 1) * per_contract
    if size > GROUP_SPREAD * max(m, 1 << 16):
        return None
    number = np.int32 if size < 2**31 else np.int64
    rank = np.full(rules.free_q.size, -1, dtype=number)
    rank[walked_ta] = np.arange(walked_ta.size)
    group = np.empty(m, dtype=number)

    def numbered(at: slice) -> None:
        r = rows[at]
        k = rank[ta[r]]
        # a tariff-article without rules (free quantity or tiers) has no units to count: group `size`
        group[at] = np.where(k >= 0, contract[r].astype(number) * per_contract + k * months + (month[r] - m0), size)

    in_pieces(m, numbered)
    total = np.zeros(size + 1, dtype=np.int64)
    for lo in range(0, m, PIECE):  # one thread (np.add.at is not atomic), a cache-sized piece of units at a time
        at = slice(lo, lo + PIECE)
        np.add.at(total, group[at], quantity[rows[at]])
    code = np.full(size + 1, UNTIERED, dtype=np.int32)  # a group of no units: none free, none charged
    g = np.flatnonzero(total[:size])
    tot = total[g]
    g_ta = walked_ta[(g % per_contract) // months]
    free_left, c0 = _after_earlier(rules.free_q[g_ta], _carried(group_key(g // per_contract, g_ta, g % months + m0), carried))
    method = rules.method[g_ta]
    groups = np.where(free_left >= tot, ALL_FREE, np.where((free_left > 0) | (method > 0), UNSETTLED, UNTIERED))
    tiered = np.flatnonzero((free_left == 0) & (method > 0))  # none free: [c0, c1) charged
    if tiered.size:
        lo = np.zeros(tiered.size, dtype=np.int64) if c0 is None else c0[tiered]  # c0: what earlier runs charged
        hi = lo + tot[tiered]
        first, last = _tier_at(rules, g_ta[tiered], lo), _tier_at(rules, g_ta[tiered], hi - 1)
        grad = method[tiered] == GRADUATED
        tier = np.where(grad, first, last)
        starts, fee = rules.tier_lo[tier], rules.tier_fee[tier]
        matters = np.where(grad, (first != last) | ((starts == lo) & (fee != 0)), (fee != 0) & (lo <= starts) & (starts < hi))
        groups[tiered] = np.where(matters, UNSETTLED, tier)
    code[g] = groups
    out = np.empty(m, dtype=np.int32)

    def looked_up(at: slice) -> None:
        out[at] = code[group[at]]

    in_pieces(m, looked_up)
    return out


#: Bits one sort key holds: the millisecond and the record's position packed into one BIGINT, and
#: the group and the record's rank in time into another, where they fit; else DuckDB sorts columns
#: (tests set it lower to take that path).
PACKED_BITS = 63


def walk_order(
    con: duckdb.DuckDBPyConnection, contract: np.ndarray, ta: np.ndarray, month: np.ndarray, t_us: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`rows` (ascending positions in the arrays; default all) in walk order: by group
    (contract, tariff-article, period), then start to the millisecond, then input row; and
    their group keys (group_key) in that order.

    The group is numbered in the bits the run needs. Where the keys fit in PACKED_BITS, Polars
    sorts values twice: (millisecond << bits) | position, which puts the records in time order,
    then (group << bits) | rank in that order (the bench's 3.8 M sorted records: 0.24-0.25 s, two
    sorts of 0.06 s each, against 0.29-0.32 s for DuckDB's sort of the two keys as columns; a
    value sort is cheap where an argsort is not). Else DuckDB sorts (group, millisecond ·
    position) or (group, millisecond, position) as columns: a run that spans years of
    milliseconds (17 at 10 M records), or whose contract, tariff-article and period numbers need
    more bits. The keys are made, and the sorted ones unpacked, in pieces on both cores.
    """
    rows = np.arange(t_us.size, dtype=np.int64) if rows is None else rows
    m = rows.size
    if m == 0:
        return rows, np.zeros(0, dtype=np.int64)
    bits = max(m - 1, 1).bit_length()  # a position among the rows
    mask = (1 << bits) - 1
    ms0, m0 = int(t_us.min()) // 1000, int(month.min())
    ta_bits, month_bits = (max(int(v).bit_length(), 1) for v in (ta.max(), month.max() - m0))
    group_bits = max(int(contract.max()).bit_length(), 1) + ta_bits + month_bits
    group = np.empty(m, dtype=np.int32 if group_bits <= 31 else np.int64)
    packed = (int(t_us.max()) // 1000 - ms0).bit_length() + bits <= PACKED_BITS
    when = np.empty(m, dtype=np.int64)  # packed: (millisecond << bits) | position; else the millisecond

    def keyed(at: slice) -> None:
        r = rows[at]
        group[at] = (((contract[r].astype(np.int64) << ta_bits) | ta[r]) << month_bits) | (month[r] - m0)
        ms = t_us[r] // 1000
        when[at] = ((ms - ms0) << bits) | np.arange(at.start, at.stop) if packed else ms

    in_pieces(m, keyed)
    if packed and group_bits + bits <= PACKED_BITS:
        by_time, done = _two_value_sorts(group, when, bits)

        def sorted_at(at: slice) -> tuple[np.ndarray, np.ndarray]:
            """(positions, group numbers) of the sorted records `at`."""
            return by_time[done[at] & mask] & mask, done[at] >> bits

    else:
        keys = {"g": group, "t": when} if packed else {"g": group, "t": when, "r": np.arange(m, dtype=np.int64)}
        con.register("walk_keys", pa.table(keys))
        try:
            found = con.sql(f"SELECT g, {'t' if packed else 'r'} AS r FROM walk_keys ORDER BY {', '.join(keys)}").fetchnumpy()
        finally:
            con.unregister("walk_keys")
        g, r = np.asarray(found["g"]), np.asarray(found["r"])

        def sorted_at(at: slice) -> tuple[np.ndarray, np.ndarray]:
            return (r[at] & mask if packed else r[at]), g[at].astype(np.int64)

    ordered, gk = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)

    def unpacked(at: slice) -> None:
        position, number = sorted_at(at)
        ordered[at] = rows[position]
        gk[at] = group_key(number >> (month_bits + ta_bits), (number >> month_bits) & ((1 << ta_bits) - 1), (number & ((1 << month_bits) - 1)) + m0)

    in_pieces(m, unpacked)
    return ordered, gk


def _two_value_sorts(group: np.ndarray, when: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """walk_order's two sorts of values, from per position its group number and its (millisecond <<
    bits) | position: (the positions in time order, in the low bits; (group << bits) | rank in that
    order, sorted)."""
    m, mask = when.size, (1 << bits) - 1
    by_time = pl.Series(when).sort().to_numpy()
    key = np.empty(m, dtype=np.int64)

    def grouped(at: slice) -> None:
        key[at] = (group[by_time[at] & mask].astype(np.int64) << bits) | np.arange(at.start, at.stop)

    in_pieces(m, grouped)
    return by_time, pl.Series(key).sort().to_numpy()


def group_slices(gk: np.ndarray, parts: int) -> list[slice]:
    """Up to `parts` slices of records in walk order (their group keys `gk`), cut only where a group starts."""
    m = gk.size
    if m == 0:
        return []
    cuts = sorted({0, m, *(int(np.searchsorted(gk, gk[i * m // parts], side="left")) for i in range(1, parts))})
    return [slice(lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]


def _running_sums(gk: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per record in walk order, the units of its group (gk) up to and including it, and the group's total."""
    m = q.size
    if m == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], gk[1:] != gk[:-1])))
    lengths = np.diff(np.append(starts, m))
    running = np.cumsum(q)
    cum = running - np.repeat(running[starts] - q[starts], lengths)
    total = np.repeat(np.add.reduceat(q, starts), lengths)
    return cum, total


def _after_earlier(free_q: np.ndarray, earlier: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(free units left, units charged) of groups with free quantity `free_q` after the units earlier
    runs rated in them (_carried); (free_q, None) without carry-in."""
    if earlier is None:
        return free_q, None
    return np.maximum(free_q - earlier, 0), np.maximum(earlier - free_q, 0)


def _tier_at(r: Rules, ta: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The tier (index in Rules' tier arrays) holding unit `units` of tariff-article `ta`'s charged
    units; a unit beyond UNIT_CAP lies in its last tier."""
    return np.searchsorted(r.tier_key, (ta << UNIT_BITS) | np.minimum(units, UNIT_CAP), side="right") - 1


def _carried(gk: np.ndarray, carried: pl.DataFrame | None) -> np.ndarray | None:
    """Units earlier runs rated in each record's group (gk); None without carry-in."""
    if carried is None or carried.height == 0:
        return None
    joined = pl.DataFrame({"gk": gk}).join(carried, on="gk", how="left", maintain_order="left")
    return joined.get_column("q_before").fill_null(0).cast(pl.Int64).to_numpy()


def _tiers(r: Rules, ta, method, a, b, t_end) -> tuple[np.ndarray, ...]:
    """(p1, u1, p2, u2, mid_hi, mid_lo, tier_fee, tier_no, tier_before, unit_price) of tariff-priced records
    of tiered articles whose charged units are [a, b) of their group's t_end.

    graduated: [a, hi(first)) at the price of the tier holding unit a, the full tiers between,
    [lo(last), b) at the price of the tier holding unit b - 1; the flat fee of every tier whose
    first unit lies in [a, b).
    volume: every unit at the price of the tier the group's charged units reach (holding unit
    t_end - 1); that tier's flat fee on the record holding its first unit.
    """
    grad = method == GRADUATED
    first = _tier_at(r, ta, np.where(grad, a, t_end - 1))
    last = np.where(grad, _tier_at(r, ta, b - 1), first)
    lo = r.tier_lo[first]
    first_fee = r.tier_fee[first]
    fee = np.where(
        grad,
        r.tier_fees_through[last] - r.tier_fees_through[first] + np.where(lo == a, first_fee, 0),
        np.where((a <= lo) & (lo < b), first_fee, 0),
    )
    spans = first != last  # graduated only
    after_first = np.minimum(first + 1, r.tier_key.size - 1)
    zero = np.zeros(a.size, dtype=np.int64)
    return (
        r.tier_price[first],
        np.where(spans, r.tier_hi[first] - a, b - a),
        np.where(spans, r.tier_price[last], zero),
        np.where(spans, b - r.tier_lo[last], zero),
        np.where(spans, r.tier_cost_hi[last] - r.tier_cost_hi[after_first], zero),
        np.where(spans, r.tier_cost_lo[last] - r.tier_cost_lo[after_first], zero),
        fee,
        r.tier_no[last],
        np.where(spans, a, -1),
        r.tier_price[last],
    )
