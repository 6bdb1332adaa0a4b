"""Synthetic call records for a synthetic catalog, one output part at a time.

Each part is drawn from its own Generator (seeded by seed and part number), so a
part depends only on the arguments and on the small `carry` the previous part
hands on (rows it may repeat as cross-file duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from pipeline.synth.catalog import CHILD, DAY, SINGLE, WINDOW_END, WINDOW_START, SynthCatalog
from pipeline.synth.numbering import NO_ZONE_LEAD, POW10, random_below
from schemas.usage import USAGE_ARROW

#: Calls per UTC hour: local (CEST, UTC+2) office hours with a lunch dip and an evening tail.
_LOCAL_HOURS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 4, 8, 10, 10, 9, 7, 8, 9, 9, 8, 6, 5, 4.5, 4, 3.5, 2.5, 1.5])
HOUR_CDF = np.cumsum(np.roll(_LOCAL_HOURS, -2)) / np.roll(_LOCAL_HOURS, -2).sum()
#: Share of weekend calls moved to a weekday of the same week (weekends are quieter).
WEEKEND_SHIFT = 0.6
#: Call durations: log-normal around a median of 55 s, capped at 4 h; some calls last 0 s.
DURATION_MEDIAN_S, DURATION_SIGMA, DURATION_MAX_S, ZERO_DURATION = 55, 1.15, 4 * 3600, 0.04
#: Chance that a call comes from an extension (1–3 more digits) of the ID's number.
EXTENSION_SINGLE, EXTENSION_OTHER = 0.3, 0.1
#: 1999-12-31 00:00 UTC: the clock-error start time of invalid records.
CLOCK_ERROR_S = 946_598_400


@dataclass(frozen=True)
class Noise:
    """Shares of deliberately bad records in every part (exact counts, rounded per part)."""

    #: subscriber numbers that match no device ID
    unassigned: float = 0.01
    #: exact repeats of an earlier record (same record_key and content)
    duplicate: float = 0.005
    #: of those, the share repeating a record of the previous part (another file)
    cross_file: float = 0.5
    #: records UsageRecord rejects (negative or too long duration, year 1999, no quantity)
    invalid: float = 0.0005
    #: called numbers that start with no zone prefix
    no_zone: float = 0.001

    def counts(self, rows: int) -> dict[str, int]:
        """How many rows of a part of `rows` rows get each kind of noise (row 0 never does)."""
        room = max(rows - 1, 0)
        out = {}
        for name in ("duplicate", "invalid", "unassigned", "no_zone"):  # the four kinds
            out[name] = min(int(round(rows * getattr(self, name))), room)
            room -= out[name]
        return out


NOISE = Noise()


def part_sizes(cdrs: int, files: int | None = None, max_rows: int = 2_000_000) -> list[int]:
    """Rows per output file: `files` near-equal parts, or as few as keep each ≤ max_rows."""
    if cdrs < 0:
        raise ValueError(f"cdrs must not be negative, got {cdrs}")
    n = files if files else max(1, -(-cdrs // max_rows))
    if n < 1:
        raise ValueError(f"files must be at least 1, got {files}")
    base, extra = divmod(cdrs, n)
    return [base + (i < extra) for i in range(n)]


def _draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n indices drawn with probability proportional to `weights`, in random order.

    Multinomial counts then a shuffle: the same distribution as n independent draws,
    several times faster than a binary search per draw over 300 k weights.
    """
    counts = rng.multinomial(n, weights / weights.sum())
    return rng.permutation(np.repeat(np.arange(weights.size), counts))


def start_times(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Epoch seconds in [lo, hi) per record: a day in the interval, weekends thinned, hour from the daily profile."""
    n = lo.size
    t = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    day = t // DAY
    dow = (day + 3) % 7  # 0 = Monday
    weekday = day - dow + rng.integers(0, 5, n)
    weekday = np.where(weekday * DAY + DAY <= lo, weekday + 7, weekday)  # the interval starts on a weekend
    day = np.where((dow >= 5) & (rng.random(n) < WEEKEND_SHIFT), weekday, day)
    hour = np.searchsorted(HOUR_CDF, rng.random(n), side="right").clip(0, 23)
    shaped = day * DAY + hour * 3600 + rng.integers(0, 3600, n)
    return np.where((shaped >= lo) & (shaped < hi), shaped, t)  # near the interval's ends keep the uniform time


def counterparties(rng: np.random.Generator, dial: pl.DataFrame, n: int, no_zone: np.ndarray) -> np.ndarray:
    """Called numbers: a zone prefix by weight, extended to 10–13 digits; rows `no_zone` hit no prefix."""
    d = _draw(rng, dial["weight"].to_numpy(), n)
    plen = dial["plen"].to_numpy()[d]
    total = rng.integers(np.maximum(10, plen + 3), 14)
    number = dial["prefix"].to_numpy()[d] * POW10[total - plen] + random_below(rng, POW10[total - plen])
    total = rng.integers(10, 14, no_zone.size)
    number[no_zone] = NO_ZONE_LEAD * POW10[total - 2] + random_below(rng, POW10[total - 2])
    return number


def durations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Call durations in seconds: log-normal, capped, some zero."""
    duration = np.rint(np.exp(rng.normal(np.log(DURATION_MEDIAN_S), DURATION_SIGMA, n))).astype(np.int64)
    duration = np.clip(duration, 1, DURATION_MAX_S)
    duration[rng.random(n) < ZERO_DURATION] = 0
    return duration


def usage_part(
    catalog: SynthCatalog,
    part: int,
    rows: int,
    first_row: int,
    source_file: str,
    carry: pl.DataFrame | None = None,
    noise: Noise = NOISE,
) -> tuple[pa.Table, pl.DataFrame]:
    """One output file's usage records (USAGE_ARROW) and the carry for the next part.

    Args:
        part: the part's number; seeds its own random stream.
        first_row: global number of the part's first row; record keys are
            `synth-<seed>-<global row>`, repeated on duplicates.
        carry: rows of the previous part that this part may repeat.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([catalog.seed, 1, part])))
    n = rows
    counts = noise.counts(n)
    order = rng.permutation(max(n - 1, 0)) + 1
    cut = np.cumsum([0, *counts.values()])
    dup, inv, una, nz = (order[cut[i]: cut[i + 1]] for i in range(4))

    # who calls: a device-ID line, by weight; then a number it covers
    lines = catalog.lines
    weight = lines["weight"].to_numpy()
    if weight.sum() <= 0:  # no contract active in the window: everything is unassigned
        una = np.arange(n)
        weight = np.ones(lines.height)
    line = _draw(rng, weight, n)
    span = lines["span"].to_numpy()[line]
    kind = lines["kind"].to_numpy()[line]
    tail = lines["tail"].to_numpy()[line]
    nlen = lines["nlen"].to_numpy()[line]
    lo = lines["lo_s"].to_numpy()[line]
    hi = lines["hi_s"].to_numpy()[line]
    off = (rng.random(n) * span).astype(np.int64)
    number = (lines["base"].to_numpy()[line] + off) * POW10[tail] + random_below(rng, POW10[tail])
    ext = rng.integers(1, 4, n)
    extend = (
        (rng.random(n) < np.where((kind == SINGLE) | (kind == CHILD), EXTENSION_SINGLE, EXTENSION_OTHER))
        & (nlen + ext <= 15)
        & (off < np.maximum(span - 1, 1))  # the last number of a range is not extended
    )
    at = np.flatnonzero(extend)
    number[at] = number[at] * POW10[ext[at]] + random_below(rng, POW10[ext[at]])

    # unassigned: numbers from blocks no ID covers, any time in the window
    spare_block = catalog.spare["block"].to_numpy()
    pick = rng.integers(0, spare_block.size, una.size)
    number[una] = spare_block[pick] * 1000 + rng.integers(0, 1000, una.size)
    lo[una], hi[una] = WINDOW_START, WINDOW_END

    t = start_times(rng, lo, hi)
    counterparty = counterparties(rng, catalog.dial, n, nz)
    duration = durations(rng, n)

    # invalid under UsageRecord: negative, longer than a week, year 1999, or no quantity
    no_quantity = np.zeros(n, dtype=bool)
    variant = rng.integers(0, 4, inv.size)
    duration[inv[variant == 0]] = -1 - duration[inv[variant == 0]]
    duration[inv[variant == 1]] = 8 * DAY + duration[inv[variant == 1]]
    t[inv[variant == 2]] = CLOCK_ERROR_S + t[inv[variant == 2]] % DAY
    no_quantity[inv[variant == 3]] = True

    key = first_row + np.arange(n, dtype=np.int64)

    # duplicates: copy an earlier plain row of this part, or a row of the previous part
    plain = np.ones(n, dtype=bool)
    plain[dup] = False
    plain[inv] = False
    plain_at = np.flatnonzero(plain)
    cross = dup[: int(round(dup.size * noise.cross_file))] if carry is not None and carry.height else dup[:0]
    local = dup[cross.size:]
    src = plain_at[rng.integers(0, np.searchsorted(plain_at, local))]  # plain rows before each target
    for column in (key, number, counterparty, t, duration):  # the five content columns
        column[local] = column[src]
    if cross.size:
        src = rng.integers(0, carry.height, cross.size)
        for column, name in ((key, "key"), (number, "number"), (counterparty, "counterparty"), (t, "t"), (duration, "duration")):
            column[cross] = carry[name].to_numpy()[src]
    keep = rng.choice(plain_at, min(plain_at.size, max(dup.size, 1)), replace=False) if plain_at.size else plain_at
    keep.sort()
    next_carry = pl.DataFrame(
        {"key": key[keep], "number": number[keep], "counterparty": counterparty[keep], "t": t[keep], "duration": duration[keep]}
    )

    frame = pl.DataFrame(
        {"key": key, "number": number, "counterparty": counterparty, "t": t, "duration": duration, "no_quantity": no_quantity}
    ).select(
        record_key=pl.concat_str(pl.lit(f"synth-{catalog.seed}-"), pl.col("key").cast(pl.String)),
        source=pl.lit("synth"),
        source_file=pl.lit(source_file),
        source_line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        id_type=pl.lit("phone"),
        subscriber_id=pl.col("number").cast(pl.String),
        counterparty=pl.col("counterparty").cast(pl.String),
        start_time=(pl.col("t") * 1_000_000).cast(pl.Datetime("us", "UTC")),
        duration_s=pl.when(~pl.col("no_quantity")).then(pl.col("duration")),
        volume_bytes=pl.lit(None, pl.Int64),
        article_key=pl.lit("voice"),
        billable=pl.lit(True),
    )
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(USAGE_ARROW), next_carry
