"""A synthetic catalog: customers, contracts, their device IDs, tariffs, zones, articles, prices.

Everything is drawn from one numpy Generator, vectorised; the result is the
catalog tables (typed as the pandera models in schemas/catalog.py) plus what the
usage generator needs to make calls that belong to those contracts (`lines`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.synth.numbering import (
    HOME_COUNTRIES,
    ZONES,
    dial_weights,
    number_blocks,
    zone_prefixes,
    zones_table,
)
from schemas.catalog import MONEY, RATE, UTC

DAY = 86_400
EPOCH = dt.date(1970, 1, 1)

#: Usage falls in [WINDOW_START, WINDOW_END), UTC.
WINDOW_START = int((dt.date(2026, 8, 1) - EPOCH).days) * DAY
WINDOW_END = int((dt.date(2026, 11, 1) - EPOCH).days) * DAY
#: Contracts start within the three years before the window's end.
FIRST_START = dt.date(2023, 11, 1)
LAST_START = dt.date(2026, 10, 31)
LATEST_END = dt.date(2026, 12, 31)

#: Device-ID row kinds, in the order of ID_KIND_SHARES.
SINGLE, CHILD, PARENT, SUBPREFIX, RANGE = range(5)
#: single number, single number inside another contract's block, block prefix,
#: sub-block prefix inside a block, number range.
ID_KIND_SHARES = (0.84, 0.06, 0.03, 0.01, 0.06)
RANGE_SIZES = (10, 100, 1000)
RANGE_SIZE_SHARES = (0.6, 0.35, 0.05)
#: spread of the log-normal call volume per contract: with 1.8 the top 1 % of contracts
#: make about 30 % of the calls and the top 20 % about 80 %, without one contract
#: dominating (a Pareto tail does that at small sizes)
ACTIVITY_SIGMA = 1.8
#: how much more a block or range calls than a single number of the same contract
KIND_VOLUME = np.array([1.0, 1.0, 5.0, 3.0, 1.0])
#: a range of N numbers calls N**RANGE_VOLUME times as much as one number (not all lines are busy)
RANGE_VOLUME = 0.3

TIMEZONES = ("Europe/Vienna", "Europe/Berlin", "UTC")
TIMEZONE_SHARES = (0.70, 0.25, 0.05)

#: tariff_id, name, first and next increment (s), VAT rate, catch-all zone, price factor (%)
TARIFFS: tuple[tuple[str, str, int, int, str, str | None, int], ...] = (
    ("T-BIZ60", "Business 60/60", 60, 60, "0.2000", None, 100),
    ("T-BIZ1", "Business 1/1", 1, 1, "0.2000", None, 110),
    ("T-FLEX", "Flex 60/1", 60, 1, "0.2000", "W4", 120),
    ("T-DE", "Standard Germany 30/6", 30, 6, "0.1900", None, 100),
    ("T-RES", "Reseller 1/1", 1, 1, "0.2000", None, 70),
)
#: tariff shares of contracts in Austria (and UTC) and in Germany
TARIFF_SHARES_AT = (0.35, 0.30, 0.15, 0.0, 0.20)
TARIFF_SHARES_DE = (0.05, 0.05, 0.05, 0.80, 0.05)
#: one list-price change inside the usage window: (tariff, zone, new price, from)
PRICE_CHANGE = ("T-BIZ60", "AT_MOB", 390, dt.date(2026, 9, 1))

PRICE_LISTS = ("PL-END", "PL-KEY", "PL-RES")
VAT_TREATMENTS = ("normal", "reverse_charge", "exempt")

_NAME_A = np.array(["Alpen", "Donau", "Berg", "Stadt", "Wald", "Sonnen", "Nord", "Süd", "Ost", "West", "Rhein",
                    "Inn", "Mur", "Enns", "Tauern", "See", "Brücken", "Kraft", "Licht", "Stern"])
_NAME_B = np.array(["bau", "tech", "handel", "net", "logistik", "consult", "druck", "med", "soft", "holz",
                    "metall", "bäck", "trans", "data", "form", "werk", "haus", "optik", "service", "energie"])
_NAME_C = np.array(["GmbH", "KG", "OG", "AG", "e.U.", "GmbH & Co KG", "SE", "Ges.m.b.H."])


@dataclass(frozen=True)
class SynthCatalog:
    """The generated catalog and what usage generation draws from.

    `tables` maps each name of schemas.catalog.TABLES to a frame typed as its model.
    `lines` has one row per device-ID row: the number (or range start) as int64,
    `tail` digits to append to reach a full number, `span` numbers in a range,
    `nlen` digits of a full number, `kind`, the UTC interval in epoch seconds in
    which the ID may call (`lo_s`, `hi_s`) and its call `weight`.
    `dial` holds the zone prefixes with call weights; `spare` number blocks no ID
    covers (calls from them are unassigned).
    """

    tables: dict[str, pl.DataFrame]
    lines: pl.DataFrame
    dial: pl.DataFrame
    spare: pl.DataFrame
    seed: int


def _ids(prefix: str, n: int) -> pl.Series:
    """`prefix` + zero-padded running number, e.g. CT000001."""
    width = max(6, len(str(n)))
    return pl.select(pl.concat_str(pl.lit(prefix), pl.int_range(1, n + 1).cast(pl.String).str.zfill(width))).to_series()


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def customers(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Customers: names, numbers, price lists, mostly normal VAT, a few test accounts."""
    name = np.char.add(np.char.add(np.char.add(_NAME_A[rng.integers(0, _NAME_A.size, n)], _NAME_B[rng.integers(0, _NAME_B.size, n)]), " "),
                       _NAME_C[rng.integers(0, _NAME_C.size, n)])
    number = rng.integers(100_000, 1_000_000, n)
    price_list = np.array(PRICE_LISTS)[rng.choice(len(PRICE_LISTS), n, p=(0.75, 0.15, 0.10))]
    return pl.DataFrame(
        {
            "customer_id": _ids("CU", n),
            "name": name,
            "customer_number": pl.Series(number).cast(pl.String),
            "price_list_id": price_list,
            "vat_treatment": np.array(VAT_TREATMENTS)[rng.choice(3, n, p=(0.93, 0.05, 0.02))],
            "is_test": rng.random(n) < 0.005,
            "_no_number": rng.random(n) < 0.10,
            "_no_list": rng.random(n) < 0.05,
        }
    ).select(
        "customer_id",
        "name",
        customer_number=pl.when(~pl.col("_no_number")).then(pl.concat_str(pl.lit("D"), "customer_number")),
        price_list_id=pl.when(~pl.col("_no_list")).then("price_list_id"),
        vat_treatment="vat_treatment",
        is_test="is_test",
    )


def tariffs() -> pl.DataFrame:
    """The handful of tariffs: increments 60/60, 1/1, 60/1, 30/6; one with a catch-all zone."""
    return pl.DataFrame(
        {
            "tariff_id": [t[0] for t in TARIFFS],
            "name": [t[1] for t in TARIFFS],
            "currency": "EUR",
            "first_increment_s": [t[2] for t in TARIFFS],
            "next_increment_s": [t[3] for t in TARIFFS],
            "vat_rate": pl.Series([t[4] for t in TARIFFS]).cast(RATE),
            "catchall_zone": pl.Series([t[5] for t in TARIFFS], dtype=pl.String),
        }
    )


def articles() -> pl.DataFrame:
    """One voice article per zone, priced per 60 seconds."""
    zone_id = pl.Series([z[0] for z in ZONES])
    zone_name = pl.Series([z[1] for z in ZONES])
    return pl.DataFrame(
        {
            "article_id": "V-" + zone_id,
            "name": "Calls to " + zone_name,
            "alt_name": "Telefonie " + zone_name,
            "unit": "second",
            "price_per": pl.Series([60] * len(ZONES), dtype=pl.Int64),
            "first_increment_s": pl.Series([None] * len(ZONES), dtype=pl.Int64),
            "next_increment_s": pl.Series([None] * len(ZONES), dtype=pl.Int64),
            "vat_rate": pl.Series([None] * len(ZONES), dtype=RATE),
        }
    )


def article_keys() -> pl.DataFrame:
    """("voice", zone) → the zone's article."""
    zone_id = pl.Series([z[0] for z in ZONES])
    return pl.DataFrame({"article_key": "voice", "zone_id": zone_id, "article_id": "V-" + zone_id})


def _money(tenthousandths: pl.Expr) -> pl.Expr:
    """An exact decimal from an integer count of 1/10 000 (no float on the way)."""
    text = pl.concat_str((tenthousandths // 10_000).cast(pl.String), pl.lit("."), (tenthousandths % 10_000).cast(pl.String).str.zfill(4))
    return text.cast(MONEY)


def prices() -> pl.DataFrame:
    """Every tariff × article: the zone's base price times the tariff's factor, ≤ 4 decimals.

    One price changes inside the usage window (PRICE_CHANGE), so price validity is exercised.
    """
    base = pl.DataFrame({"zone_id": [z[0] for z in ZONES], "base": [z[3] for z in ZONES]})
    factor = pl.DataFrame({"tariff_id": [t[0] for t in TARIFFS], "factor": [t[6] for t in TARIFFS]})
    grid = factor.join(base, how="cross").with_columns(
        article_id="V-" + pl.col("zone_id"),
        p=pl.col("base") * pl.col("factor") // 100,
        valid_from=pl.lit(None, pl.Date),
        valid_until=pl.lit(None, pl.Date),
    )
    tariff, zone, new_price, since = PRICE_CHANGE
    changed = (pl.col("tariff_id") == tariff) & (pl.col("zone_id") == zone)
    grid = pl.concat(
        [
            grid.with_columns(valid_until=pl.when(changed).then(pl.lit(since)).otherwise("valid_until")),
            grid.filter(changed).with_columns(p=pl.lit(new_price, pl.Int64), valid_from=pl.lit(since)),
        ]
    )
    return grid.select("tariff_id", "article_id", price=_money(pl.col("p")), valid_from="valid_from", valid_until="valid_until")


def contracts(rng: np.random.Generator, n: int, customer_ids: pl.Series) -> pl.DataFrame:
    """Contracts: every customer has one, some several; starts in the past three years, some ended.

    Keeps two helper columns for the device IDs: `_country` (home country code) and
    `_activity` (heavy-tailed call volume: a few contracts make most calls).
    """
    n_cust = customer_ids.len()
    popularity = np.cumsum(rng.pareto(1.5, n_cust) + 1)
    extra = np.searchsorted(popularity, rng.random(n) * popularity[-1], side="right").clip(0, n_cust - 1)
    cust = extra.copy()
    cust[: min(n, n_cust)] = rng.permutation(n_cust)[: min(n, n_cust)]  # every customer has a contract

    tz = rng.choice(len(TIMEZONES), n, p=TIMEZONE_SHARES)
    tariff = np.where(tz == 1, rng.choice(len(TARIFFS), n, p=TARIFF_SHARES_DE), rng.choice(len(TARIFFS), n, p=TARIFF_SHARES_AT))
    start = rng.integers(_days(FIRST_START), _days(LAST_START) + 1, n)
    ended = rng.random(n) < 0.12
    end = np.minimum(start + rng.integers(30, 1100, n), _days(LATEST_END))
    return pl.DataFrame(
        {
            "contract_id": _ids("CT", n),
            "customer_id": customer_ids.gather(cust),
            "tariff_id": np.array([t[0] for t in TARIFFS])[tariff],
            "start_date": pl.Series(start, dtype=pl.Int32).cast(pl.Date),
            "end_date": pl.Series(np.where(ended, end, 0), dtype=pl.Int32).cast(pl.Date),
            "_ended": ended,
            "timezone": np.array(TIMEZONES)[tz],
            "_country": np.where(tz == 1, HOME_COUNTRIES[1], HOME_COUNTRIES[0]),
            "_activity": rng.lognormal(0.0, ACTIVITY_SIGMA, n),
        }
    ).with_columns(end_date=pl.when("_ended").then("end_date")).drop("_ended")


def _choose(rng: np.random.Generator, population: int, k: int) -> np.ndarray:
    """k distinct slots out of `population`."""
    return rng.choice(population, k, replace=False) if k else np.zeros(0, np.int64)


def _allocate(rng: np.random.Generator, prefixes: pl.DataFrame, country: int, kind: np.ndarray, size: np.ndarray):
    """Numbers for one country's device-ID rows: (value, span, tail, nlen, kind, spare blocks).

    Singles share blocks of 1000 numbers (a quarter used); ranges of 10 and 100 share
    blocks, a range of 1000 is a whole block; a parent owns a whole block as a prefix,
    children own numbers inside it and sub-prefixes own a tenth of it.
    """
    kind = kind.copy()
    parents = np.flatnonzero(kind == PARENT)
    # without enough parents, nested rows become plain singles
    for k, room in ((CHILD, 250), (SUBPREFIX, 5)):
        rows = np.flatnonzero(kind == k)
        kind[rows[parents.size * room:]] = SINGLE
    rows = {k: np.flatnonzero(kind == k) for k in (SINGLE, CHILD, PARENT, SUBPREFIX)}
    ranges = {s: np.flatnonzero((kind == RANGE) & (size == s)) for s in RANGE_SIZES}

    n_single = -(-rows[SINGLE].size // 250)
    n_r10 = -(-ranges[10].size // 50)
    n_r100 = -(-ranges[100].size // 5)
    counts = [n_single, rows[PARENT].size, n_r10, n_r100, ranges[1000].size]
    n_spare = max(4, sum(counts) // 50)
    block, blen = number_blocks(rng, prefixes, country, sum(counts) + n_spare)
    cut = np.cumsum([0, *counts])
    part = [slice(cut[i], cut[i + 1]) for i in range(len(counts))]
    sb, pb, b10, b100, b1000 = (block[p] for p in part)
    sbl, pbl, l10, l100, l1000 = (blen[p] for p in part)

    m = kind.size
    value, span, tail, nlen = (np.zeros(m, np.int64) for _ in range(4))

    slot = _choose(rng, sb.size * 1000, rows[SINGLE].size)
    value[rows[SINGLE]] = sb[slot // 1000] * 1000 + slot % 1000
    nlen[rows[SINGLE]] = sbl[slot // 1000] + 3

    value[rows[PARENT]], tail[rows[PARENT]], nlen[rows[PARENT]] = pb, 3, pbl + 3
    slot = _choose(rng, pb.size * 1000, rows[CHILD].size)
    value[rows[CHILD]] = pb[slot // 1000] * 1000 + slot % 1000
    nlen[rows[CHILD]] = pbl[slot // 1000] + 3
    slot = _choose(rng, pb.size * 10, rows[SUBPREFIX].size)
    value[rows[SUBPREFIX]], tail[rows[SUBPREFIX]] = pb[slot // 10] * 10 + slot % 10, 2
    nlen[rows[SUBPREFIX]] = pbl[slot // 10] + 3

    for s, blocks, lens, per in ((10, b10, l10, 100), (100, b100, l100, 10), (1000, b1000, l1000, 1)):
        slot = _choose(rng, blocks.size * per, ranges[s].size)
        value[ranges[s]] = blocks[slot // per] * 1000 + (slot % per) * s
        nlen[ranges[s]] = lens[slot // per] + 3
        span[ranges[s]] = s
    span[kind != RANGE] = 1
    spare = pl.DataFrame({"block": block[cut[-1]:], "blen": blen[cut[-1]:]})
    return value, span, tail, nlen, kind, spare


def device_ids(rng: np.random.Generator, contract: pl.DataFrame, prefixes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Device IDs of the contracts (about 3 each), their call lines, and spare blocks.

    Mix: single numbers (head-data prefixes), numbers nested in another contract's
    block, block and sub-block prefixes, ranges of 10/100/1000 numbers. Most are open;
    some have a validity window, IDs of ended contracts mostly end with the contract,
    and about 2 % of numbers moved to another contract at a midnight in the window.
    No two rows with the same value overlap in validity.
    """
    n = contract.height
    n_ids = rng.geometric(1 / 3, n)
    owner = np.repeat(np.arange(n), n_ids)
    m = owner.size
    kind = rng.choice(len(ID_KIND_SHARES), m, p=ID_KIND_SHARES)
    size = np.array(RANGE_SIZES)[rng.choice(len(RANGE_SIZES), m, p=RANGE_SIZE_SHARES)]
    country = contract["_country"].to_numpy()[owner]

    value, span, tail, nlen = (np.zeros(m, np.int64) for _ in range(4))
    spares = []
    for cc in HOME_COUNTRIES:  # the two home countries
        sel = np.flatnonzero(country == cc)
        v, s, t, nl, k, spare = _allocate(rng, prefixes, cc, kind[sel], size[sel])
        value[sel], span[sel], tail[sel], nlen[sel], kind[sel] = v, s, t, nl, k
        spares.append(spare)

    start_s = contract["start_date"].cast(pl.Int64).to_numpy() * DAY
    end_day = contract["end_date"].cast(pl.Int64).fill_null(-1).to_numpy()
    ended = end_day >= 0
    # validity: -1 stands for open
    valid_from = np.full(m, -1, np.int64)
    valid_until = np.full(m, -1, np.int64)
    windowed = rng.random(m) < 0.08
    valid_from[windowed] = start_s[owner[windowed]] + rng.integers(0, 120 * DAY, int(windowed.sum()))
    closes = ended[owner] & (rng.random(m) < 0.7)
    valid_until[closes] = (end_day[owner[closes]] + 1) * DAY
    cancelled = ~ended[owner] & (rng.random(m) < 0.03)
    valid_until[cancelled] = WINDOW_START + rng.integers(DAY, WINDOW_END - WINDOW_START, int(cancelled.sum()))
    both = (valid_from >= 0) & (valid_until >= 0) & (valid_until <= valid_from)
    valid_from[both] = -1

    # moved numbers: open single numbers handed to another contract at midnight T
    open_single = np.flatnonzero(((kind == SINGLE) | (kind == CHILD)) & (valid_from < 0) & (valid_until < 0))
    moved = open_single[rng.random(open_single.size) < 0.02]
    when = WINDOW_START + rng.integers(7, (WINDOW_END - WINDOW_START) // DAY - 7, moved.size) * DAY
    valid_until[moved] = when
    new_owner = (owner[moved] + rng.integers(1, max(n, 2), moved.size)) % n

    owner = np.concatenate([owner, new_owner])
    pick = np.concatenate([np.arange(m), moved])
    valid_from = np.concatenate([valid_from, when])
    valid_until = np.concatenate([valid_until, np.full(moved.size, -1, np.int64)])
    value, span, tail, nlen, kind = value[pick], span[pick], tail[pick], nlen[pick], kind[pick]

    # when each row can call: its validity ∩ the contract's days ∩ the window
    c_end = np.where(ended, end_day * DAY, WINDOW_END)[owner]
    lo = np.maximum.reduce([np.full(owner.size, WINDOW_START), start_s[owner] + DAY, valid_from])
    hi = np.minimum.reduce([np.full(owner.size, WINDOW_END), c_end, np.where(valid_until >= 0, valid_until, WINDOW_END)])
    activity = contract["_activity"].to_numpy()
    weight = activity[owner] / n_ids[owner] * KIND_VOLUME[kind] * span**RANGE_VOLUME * np.maximum(hi - lo, 0) / (WINDOW_END - WINDOW_START)

    to_text = pl.col("value").cast(pl.String)
    ids = pl.DataFrame(
        {"contract_id": contract["contract_id"].gather(owner), "value": value, "span": span, "vf": valid_from, "vu": valid_until}
    ).select(
        "contract_id",
        id_type=pl.lit("phone"),
        id_value=to_text,
        id_to=pl.when(pl.col("span") > 1).then((pl.col("value") + pl.col("span") - 1).cast(pl.String)),
        valid_from=pl.when(pl.col("vf") >= 0).then(pl.col("vf") * 1_000_000).cast(UTC),
        valid_until=pl.when(pl.col("vu") >= 0).then(pl.col("vu") * 1_000_000).cast(UTC),
    )
    lines = pl.DataFrame(
        {
            "base": value,
            "tail": tail,
            "span": span,
            "nlen": nlen,
            "kind": kind,
            "lo_s": lo,
            "hi_s": np.maximum(hi, lo),
            "weight": weight,
        }
    )
    return ids, lines, pl.concat(spares)


def synth_catalog(contracts_n: int, seed: int = 42) -> SynthCatalog:
    """The whole catalog for `contracts_n` contracts, deterministic in `seed`."""
    if contracts_n < 1:
        raise ValueError(f"contracts must be at least 1, got {contracts_n}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0])))
    prefixes = zone_prefixes(rng)
    cust = customers(rng, max(1, -(-contracts_n * 2 // 3)))
    contract = contracts(rng, contracts_n, cust["customer_id"])
    ids, lines, spare = device_ids(rng, contract, prefixes)
    tables = {
        "customers": cust,
        "contracts": contract.drop("_country", "_activity"),
        "device_ids": ids,
        "tariffs": tariffs(),
        "articles": articles(),
        "zones": zones_table(prefixes),
        "article_keys": article_keys(),
        "prices": prices(),
    }
    return SynthCatalog(tables=tables, lines=lines, dial=dial_weights(prefixes), spare=spare, seed=seed)

