"""Free quantities and volume tiers: the records of each group in time order, as whole columns.

A group is one contract, tariff-article and billing period. Its records are walked in time
order (start to the millisecond, then input row): the free quantity is used up first, the
record that crosses it split into a free and a charged part; the charged units then climb the
volume tiers (docs/pricing.md). One stable sort of a 64-bit key per counted record (group,
start) gives the order; the running sums are taken in that order and put back in place,
and everything else is whole-column arithmetic and lookups in the small tier table.

No rounding happens here: the walk says which units are charged at which unit price (at most
two tier parts per record plus the full tiers between them), and pipeline/price/records.py
turns that into money with the one rounding rule (records.div_half_up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

#: Tier methods as codes.
GRADUATED, VOLUME = 1, 2
#: Price source code of the tariff level (schemas.pricing.PRICE_SOURCES, 1-based): only it is tiered.
TARIFF = 6
#: Tier positions are keyed (tariff-article << 44) | units: up to 1.7e13 units per group and period.
UNIT_BITS = 44


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
    tier_cost_before: np.ndarray
    tier_fees_through: np.ndarray


def rules(ta: pl.DataFrame, tiers: pl.DataFrame) -> Rules:
    """Lookup arrays from ta_dim (ta_no, free_q, tier_method) and tier_dim (ta_no, tier_no, lo, hi,
    price_micro, fee_micro, cost_before, fees_through)."""
    size = int(ta.get_column("ta_no").max() or 0) + 1
    free_q = np.zeros(size, dtype=np.int64)
    free_q[ta.get_column("ta_no").to_numpy()] = ta.get_column("free_q").cast(pl.Int64).to_numpy()
    method = np.zeros(size, dtype=np.int64)
    codes = ta.get_column("tier_method").replace_strict({"graduated": GRADUATED, "volume": VOLUME}, default=0, return_dtype=pl.Int64)
    method[ta.get_column("ta_no").to_numpy()] = codes.to_numpy()
    tiers = tiers.sort("ta_no", "lo")
    if tiers.height and int(tiers.get_column("cost_before").max()) >= 2**62:
        raise ValueError("volume tiers too wide for their price: a tier's full cost must stay below 2^62 micro-units")

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
        tier_cost_before=col("cost_before"),
        tier_fees_through=col("fees_through"),
    )


def walked(counted: pl.DataFrame, rules: Rules, carried: pl.DataFrame | None = None) -> dict[str, np.ndarray]:
    """What the amounts of the counted records (pipeline/price/records.py: gk, t_us, contract_no,
    ta_no, month_idx, quantity, price_micro, src; in input order) are computed from, row-aligned:
    free_quantity, the usage parts p1, u1, p2, u2, mid (micro-units · units), tier_fee, tier_no
    (0: none), tier_before (-1: the record does not span tiers) and unit_price.

    Args:
        carried: (gk, q_before): units earlier runs rated in a group.
    """
    m = counted.height
    qn = counted.get_column("quantity").to_numpy()
    cum, total = _running_sums(counted, qn)
    ta = counted.get_column("ta_no").cast(pl.Int64).to_numpy()
    earlier = _carried(counted, carried)
    free_q = rules.free_q[ta]
    free_left = np.maximum(free_q - earlier, 0)
    t0 = np.maximum(earlier - free_q, 0)
    free = np.clip(free_left - (cum - qn), 0, qn)
    a = t0 + np.maximum(cum - qn - free_left, 0)
    b = t0 + np.maximum(cum - free_left, 0)
    t_end = t0 + np.maximum(total - free_left, 0)
    price = counted.get_column("price_micro").to_numpy()
    p1, u1 = price.copy(), qn - free
    p2, u2, mid, fee = (np.zeros(m, dtype=np.int64) for _ in range(4))
    tier_no, tier_before, unit_price = np.zeros(m, dtype=np.int64), np.full(m, -1, dtype=np.int64), price.copy()
    method = rules.method[ta]
    tiered = (counted.get_column("src").to_numpy() == TARIFF) & (method > 0) & (b > a)
    if tiered.any():
        at = np.flatnonzero(tiered)
        _tiers(rules, at, ta[at], method[at], a[at], b[at], t_end[at], p1, u1, p2, u2, mid, fee, tier_no, tier_before, unit_price)
    return {
        "free_quantity": free, "p1": p1, "u1": u1, "p2": p2, "u2": u2, "mid": mid, "tier_fee": fee,
        "tier_no": tier_no, "tier_before": tier_before, "unit_price": unit_price,
    }  # fmt: skip


def walk_order(counted: pl.DataFrame) -> np.ndarray:
    """The rows of `counted` (in input order) in walk order: by group (contract, tariff-article,
    period), then start to the millisecond, then input row.

    One stable sort of one 64-bit key when the group's numbers and the run's span of
    milliseconds fit in 63 bits (they do for millions of contracts and months of usage); else a
    sort by two columns.
    """
    ms = counted.get_column("t_us") // 1000
    ms = ms - ms.min()
    fields = [counted.get_column(c).cast(pl.Int64) for c in ("contract_no", "ta_no", "month_idx")]
    fields[2] = fields[2] - fields[2].min()
    widths = [max(int(f.max()).bit_length(), 1) for f in (*fields, ms)]
    if sum(widths) <= 63:
        key = fields[0]
        for field, width in zip((*fields[1:], ms), widths[1:]):
            key = key * (1 << width) + field
        order = pl.select(pl.int_range(counted.height, dtype=pl.Int64).sort_by(pl.lit(key), maintain_order=True))
    else:
        frame = pl.DataFrame({"g": counted.get_column("gk"), "ms": ms})
        order = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).sort_by("g", "ms", maintain_order=True))
    return order.to_series().to_numpy()


def _running_sums(counted: pl.DataFrame, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per record, the units of its group up to and including it in walk order, and the group's total."""
    m = q.size
    if m == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = walk_order(counted)
    group_sorted = counted.get_column("gk").to_numpy()[order]
    q_s = q[order]
    starts = np.flatnonzero(np.concatenate(([True], group_sorted[1:] != group_sorted[:-1])))
    lengths = np.diff(np.append(starts, m))
    running = np.cumsum(q_s)
    cum, total = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    cum[order] = running - np.repeat(running[starts] - q_s[starts], lengths)
    total[order] = np.repeat(np.add.reduceat(q_s, starts), lengths)
    return cum, total


def _carried(counted: pl.DataFrame, carried: pl.DataFrame | None) -> np.ndarray:
    """Units earlier runs rated in each record's group (0 without carry-in)."""
    if carried is None or carried.height == 0:
        return np.zeros(counted.height, dtype=np.int64)
    joined = counted.select("gk").join(carried, on="gk", how="left", maintain_order="left")
    return joined.get_column("q_before").fill_null(0).cast(pl.Int64).to_numpy()


def _tiers(r: Rules, at, ta, method, a, b, t_end, p1, u1, p2, u2, mid, fee, tier_no, tier_before, unit_price) -> None:
    """Price the charged units [a, b) of tariff-priced records of tiered articles, in place at `at`."""
    base = ta << UNIT_BITS
    grad = method == GRADUATED
    if grad.any():
        # graduated: [a, hi(first)) at first's price, the full tiers between, [lo(last), b) at last's
        # price; the flat fee of every tier whose first unit lies in [a, b)
        g, ga, gb, gbase = at[grad], a[grad], b[grad], base[grad]
        first = np.searchsorted(r.tier_key, gbase | ga, side="right") - 1  # tier holding unit a
        last = np.searchsorted(r.tier_key, gbase | (gb - 1), side="right") - 1  # tier holding unit b - 1
        p1[g] = r.tier_price[first]
        u1[g] = gb - ga
        fee[g] = r.tier_fees_through[last] - r.tier_fees_through[first] + np.where(r.tier_lo[first] == ga, r.tier_fee[first], 0)
        tier_no[g] = r.tier_no[last]
        unit_price[g] = r.tier_price[last]
        spans = np.flatnonzero(first != last)
        if spans.size:
            s, f, l = g[spans], first[spans], last[spans]
            u1[s] = r.tier_hi[f] - ga[spans]
            p2[s] = r.tier_price[l]
            u2[s] = gb[spans] - r.tier_lo[l]
            mid[s] = r.tier_cost_before[l] - r.tier_cost_before[f + 1]
            tier_before[s] = ga[spans]
    vol = ~grad
    if vol.any():
        # volume: every unit at the price of the tier the group's charged units reach; that tier's
        # flat fee on the record holding its first unit
        v, va, vb = at[vol], a[vol], b[vol]
        reached = np.searchsorted(r.tier_key, base[vol] | (t_end[vol] - 1), side="right") - 1
        lo = r.tier_lo[reached]
        p1[v] = r.tier_price[reached]
        u1[v] = vb - va
        fee[v] = np.where((va <= lo) & (lo < vb), r.tier_fee[reached], 0)
        tier_no[v] = r.tier_no[reached]
        unit_price[v] = r.tier_price[reached]
