"""A synthetic numbering plan: destination zones, their prefixes, and blocks of subscriber numbers.

Phone numbers are E.164 digit strings without `+`. They are handled as int64 here
(at most 15 digits, never a leading zero because every number starts with a
country code), so building millions of them is integer arithmetic plus one cast
to string at the end.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: 10**k for every k a 15-digit number needs.
POW10 = 10 ** np.arange(19, dtype=np.int64)

#: (zone_id, zone_name, share of calls to it, base price per minute in 1/10 000 EUR).
ZONES: tuple[tuple[str, str, float, int], ...] = (
    ("AT_FIX", "Austria fixed", 0.33, 190),
    ("AT_MOB", "Austria mobile", 0.30, 490),
    ("AT_FREE", "Austria freephone", 0.010, 0),
    ("AT_PREM", "Austria premium", 0.003, 19900),
    ("DE_FIX", "Germany fixed", 0.07, 290),
    ("DE_MOB", "Germany mobile", 0.07, 590),
    ("DE_FREE", "Germany freephone", 0.005, 0),
    ("DE_PREM", "Germany premium", 0.002, 14900),
    ("CH_FIX", "Switzerland fixed", 0.015, 1500),
    ("CH_MOB", "Switzerland mobile", 0.015, 3900),
    ("EU1_FIX", "EU zone 1 fixed", 0.030, 390),
    ("EU1_MOB", "EU zone 1 mobile", 0.030, 690),
    ("EU2_FIX", "EU zone 2 fixed", 0.015, 390),
    ("EU2_MOB", "EU zone 2 mobile", 0.015, 690),
    ("EU3_FIX", "EU zone 3 fixed", 0.007, 390),
    ("EU3_MOB", "EU zone 3 mobile", 0.007, 690),
    ("EUR_FIX", "Europe non-EU fixed", 0.010, 2900),
    ("EUR_MOB", "Europe non-EU mobile", 0.010, 5900),
    ("NANP", "USA and Canada", 0.010, 490),
    ("W1_FIX", "World zone 1 fixed", 0.004, 3900),
    ("W1_MOB", "World zone 1 mobile", 0.004, 6900),
    ("W2_FIX", "World zone 2 fixed", 0.004, 5900),
    ("W2_MOB", "World zone 2 mobile", 0.004, 7900),
    ("W3_FIX", "World zone 3 fixed", 0.002, 9900),
    ("W3_MOB", "World zone 3 mobile", 0.002, 12900),
    ("W4", "World zone 4", 0.002, 29000),
    ("SAT", "Satellite", 0.0002, 99000),
)

#: Countries: code, fixed zone, mobile zone, leading digits of area codes, leading
#: digit(s) of mobile prefixes, area-code length range, number of area codes, number
#: of generic mobile prefixes. Austria and Germany get their real mobile prefixes
#: from SPECIAL instead of generic ones. No code starts with 28 (see NO_ZONE_LEAD).
COUNTRIES: tuple[tuple[int, str, str, str, str, int, int, int, int], ...] = (
    (43, "AT_FIX", "AT_MOB", "23457", "", 2, 4, 900, 0),
    (49, "DE_FIX", "DE_MOB", "23456789", "", 2, 4, 2600, 0),
    (41, "CH_FIX", "CH_MOB", "2345689", "7", 2, 3, 60, 5),
    (39, "EU1_FIX", "EU1_MOB", "0", "3", 2, 4, 150, 8),
    (386, "EU1_FIX", "EU1_MOB", "12357", "4", 1, 2, 20, 4),
    (36, "EU1_FIX", "EU1_MOB", "1234589", "7", 1, 2, 40, 3),
    (420, "EU1_FIX", "EU1_MOB", "2345", "67", 1, 2, 25, 6),
    (421, "EU1_FIX", "EU1_MOB", "2345", "9", 1, 2, 20, 4),
    (33, "EU2_FIX", "EU2_MOB", "12345", "67", 1, 2, 30, 6),
    (31, "EU2_FIX", "EU2_MOB", "123457", "6", 1, 3, 40, 4),
    (32, "EU2_FIX", "EU2_MOB", "123589", "4", 1, 2, 30, 5),
    (352, "EU2_FIX", "EU2_MOB", "2", "6", 1, 2, 10, 3),
    (34, "EU2_FIX", "EU2_MOB", "89", "67", 2, 3, 50, 6),
    (351, "EU2_FIX", "EU2_MOB", "2", "9", 1, 3, 25, 4),
    (48, "EU2_FIX", "EU2_MOB", "1234", "5678", 2, 2, 40, 8),
    (385, "EU2_FIX", "EU2_MOB", "12345", "9", 1, 2, 20, 5),
    (353, "EU3_FIX", "EU3_MOB", "124569", "8", 1, 2, 25, 5),
    (45, "EU3_FIX", "EU3_MOB", "3456789", "2", 1, 2, 15, 4),
    (46, "EU3_FIX", "EU3_MOB", "123456", "7", 1, 3, 40, 5),
    (358, "EU3_FIX", "EU3_MOB", "123569", "4", 1, 2, 20, 5),
    (372, "EU3_FIX", "EU3_MOB", "3467", "5", 1, 2, 10, 2),
    (371, "EU3_FIX", "EU3_MOB", "6", "2", 2, 2, 10, 3),
    (370, "EU3_FIX", "EU3_MOB", "345", "6", 1, 2, 15, 3),
    (30, "EU3_FIX", "EU3_MOB", "2", "69", 2, 4, 30, 4),
    (357, "EU3_FIX", "EU3_MOB", "2", "9", 1, 2, 8, 3),
    (356, "EU3_FIX", "EU3_MOB", "2", "79", 1, 2, 6, 3),
    (40, "EU3_FIX", "EU3_MOB", "23", "7", 2, 3, 40, 8),
    (359, "EU3_FIX", "EU3_MOB", "2345", "89", 1, 2, 25, 4),
    (44, "EUR_FIX", "EUR_MOB", "123", "7", 2, 4, 120, 8),
    (47, "EUR_FIX", "EUR_MOB", "23567", "49", 1, 2, 15, 4),
    (381, "EUR_FIX", "EUR_MOB", "123", "6", 1, 2, 20, 5),
    (387, "EUR_FIX", "EUR_MOB", "345", "6", 1, 2, 12, 4),
    (90, "EUR_FIX", "EUR_MOB", "234", "5", 2, 3, 60, 8),
    (380, "EUR_FIX", "EUR_MOB", "3456", "9", 2, 3, 40, 6),
    (382, "EUR_FIX", "EUR_MOB", "234", "6", 1, 2, 8, 3),
    (389, "EUR_FIX", "EUR_MOB", "234", "7", 1, 2, 8, 3),
    (355, "EUR_FIX", "EUR_MOB", "2358", "6", 1, 2, 10, 3),
    (423, "EUR_FIX", "EUR_MOB", "23", "7", 1, 1, 4, 2),
    (1, "NANP", "NANP", "23456789", "", 3, 3, 300, 0),
    (61, "W1_FIX", "W1_MOB", "2378", "4", 1, 1, 6, 4),
    (81, "W1_FIX", "W1_MOB", "123456", "789", 1, 3, 60, 6),
    (64, "W1_FIX", "W1_MOB", "34679", "2", 1, 1, 6, 4),
    (972, "W1_FIX", "W1_MOB", "23489", "5", 1, 1, 6, 5),
    (65, "W1_FIX", "W1_MOB", "6", "89", 1, 1, 2, 4),
    (971, "W1_FIX", "W1_MOB", "234679", "5", 1, 1, 6, 4),
    (82, "W1_FIX", "W1_MOB", "23456", "1", 1, 2, 16, 4),
    (86, "W2_FIX", "W2_MOB", "2345789", "1", 2, 3, 120, 10),
    (91, "W2_FIX", "W2_MOB", "12345678", "9", 2, 4, 150, 8),
    (55, "W2_FIX", "W2_MOB", "123456789", "", 2, 2, 60, 0),
    (7, "W2_FIX", "W2_MOB", "348", "9", 3, 4, 80, 8),
    (77, "W2_FIX", "W2_MOB", "12", "07", 2, 3, 10, 4),
    (27, "W2_FIX", "W2_MOB", "12345", "678", 2, 2, 20, 6),
    (52, "W2_FIX", "W2_MOB", "23456789", "1", 2, 3, 40, 2),
    (54, "W2_FIX", "W2_MOB", "23", "9", 2, 3, 30, 2),
    (66, "W2_FIX", "W2_MOB", "234567", "89", 1, 2, 15, 4),
    (20, "W2_FIX", "W2_MOB", "234568", "1", 1, 2, 15, 4),
    (63, "W2_FIX", "W2_MOB", "234578", "9", 1, 2, 12, 6),
    (234, "W3_FIX", "W3_MOB", "1245", "789", 1, 2, 15, 6),
    (254, "W3_FIX", "W3_MOB", "2456", "7", 1, 2, 10, 4),
    (92, "W3_FIX", "W3_MOB", "2456", "3", 2, 3, 20, 6),
    (880, "W3_FIX", "W3_MOB", "2345", "1", 1, 2, 10, 5),
    (84, "W3_FIX", "W3_MOB", "2", "35789", 1, 2, 20, 5),
    (62, "W3_FIX", "W3_MOB", "2345", "8", 1, 2, 20, 5),
    (212, "W3_FIX", "W3_MOB", "5", "67", 2, 3, 10, 4),
    (216, "W3_FIX", "W3_MOB", "7", "259", 1, 2, 6, 3),
    (1876, "W3_FIX", "W3_MOB", "69", "8", 2, 2, 4, 3),
    (1809, "W3_FIX", "W3_MOB", "5", "8", 2, 2, 3, 2),
    (672, "W4", "W4", "", "", 1, 1, 0, 0),
    (682, "W4", "W4", "", "", 1, 1, 0, 0),
    (685, "W4", "W4", "", "", 1, 1, 0, 0),
    (677, "W4", "W4", "", "", 1, 1, 0, 0),
    (690, "W4", "W4", "", "", 1, 1, 0, 0),
    (870, "SAT", "SAT", "", "", 1, 1, 0, 0),
    (881, "SAT", "SAT", "", "", 1, 1, 0, 0),
)

#: Explicit prefixes: real mobile prefixes of the two home countries, service numbers,
#: Vienna's one-digit area code.
SPECIAL: tuple[tuple[int, str, str], ...] = (
    *((p, "AT_MOB", "mobile") for p in (43650, 43660, 43664, 43676, 43677, 43678, 43680, 43681, 43688, 43699)),
    *((p, "DE_MOB", "mobile") for p in (49151, 49152, 49157, 49159, 49160, 49162, 49163, 49170, 49171, 49172,
                                        49173, 49174, 49175, 49176, 49177, 49178, 49179)),
    (431, "AT_FIX", "area"),
    (43800, "AT_FREE", "service"),
    (43810, "AT_FREE", "service"),
    (43900, "AT_PREM", "service"),
    (43930, "AT_PREM", "service"),
    (49800, "DE_FREE", "service"),
    (49900, "DE_PREM", "service"),
    (49180, "DE_FIX", "service"),
)

#: Called numbers that hit no zone prefix start with 28 (a spare country code).
NO_ZONE_LEAD = 28

#: The countries subscribers (device IDs) live in.
HOME_COUNTRIES = (43, 49)


def digits(values: np.ndarray) -> np.ndarray:
    """Number of decimal digits of positive int64 values (exact, no float log)."""
    return np.searchsorted(POW10, values, side="right").astype(np.int64)


def random_below(rng: np.random.Generator, bound: np.ndarray) -> np.ndarray:
    """A uniform integer in [0, bound) per element: the digits appended to a prefix."""
    return rng.integers(0, bound, dtype=np.int64)


def _pick_digit(rng: np.random.Generator, choices: np.ndarray, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One digit per row from the row's country's allowed digits (a padded table)."""
    pick = rng.integers(0, np.maximum(counts[rows], 1))
    return choices[rows, pick]


def _digit_table(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((len(strings), 10), dtype=np.int64)
    counts = np.array([len(s) for s in strings], dtype=np.int64)
    for i, s in enumerate(strings):  # one row per country of the constant table
        table[i, : len(s)] = [int(c) for c in s]
    return table, counts


def zone_prefixes(rng: np.random.Generator) -> pl.DataFrame:
    """Thousands of nested destination prefixes, each mapped to a zone.

    Nesting: country code → mobile prefix → mobile sub-prefix, country code → area
    code (and area codes inside area codes), country code "1" → "1876" (another
    zone). Columns: prefix (int64), plen, zone_id, country, kind. Earlier kinds win
    when the random parts produce a prefix twice.
    """
    codes = np.array([c[0] for c in COUNTRIES], dtype=np.int64)
    fixed_zone = np.array([c[1] for c in COUNTRIES])
    mobile_zone = np.array([c[2] for c in COUNTRIES])
    area_lead, area_lead_n = _digit_table([c[3] for c in COUNTRIES])
    mob_lead, mob_lead_n = _digit_table([c[4] for c in COUNTRIES])
    amin = np.array([c[5] for c in COUNTRIES], dtype=np.int64)
    amax = np.array([c[6] for c in COUNTRIES], dtype=np.int64)
    n_area = np.array([c[7] for c in COUNTRIES], dtype=np.int64)
    n_mob = np.array([c[8] for c in COUNTRIES], dtype=np.int64)
    idx = np.arange(len(COUNTRIES))

    country = pl.DataFrame({"prefix": codes, "zone_id": fixed_zone, "country": codes, "kind": "country"})
    special = pl.DataFrame(
        {
            "prefix": np.array([s[0] for s in SPECIAL], dtype=np.int64),
            "zone_id": [s[1] for s in SPECIAL],
            "country": np.array([43 if str(s[0]).startswith("43") else 49 for s in SPECIAL], dtype=np.int64),
            "kind": [s[2] for s in SPECIAL],
        }
    )

    # generic mobile prefixes: code + lead digit + one digit
    rows = np.repeat(idx, n_mob)
    mob = codes[rows] * 100 + _pick_digit(rng, mob_lead, mob_lead_n, rows) * 10 + rng.integers(0, 10, rows.size)
    mobile = pl.DataFrame({"prefix": mob, "zone_id": mobile_zone[rows], "country": codes[rows], "kind": "mobile"})
    mobile = pl.concat([special.filter(pl.col("kind") == "mobile"), mobile]).unique("prefix", maintain_order=True)
    # a third of the mobile prefixes get a nested sub-prefix of the same zone
    mp = mobile["prefix"].to_numpy()
    deeper = rng.random(mp.size) < 0.3
    sub = pl.DataFrame(
        {
            "prefix": mp[deeper] * 10 + rng.integers(0, 10, int(deeper.sum())),
            "zone_id": mobile["zone_id"].filter(pl.Series(deeper)),
            "country": mobile["country"].filter(pl.Series(deeper)),
            "kind": "mobile",
        }
    )

    # area codes: code + lead digit + random digits, length amin..amax
    rows = np.repeat(idx, n_area)
    length = rng.integers(amin[rows], amax[rows] + 1)
    lead = _pick_digit(rng, area_lead, area_lead_n, rows)
    area = lead * POW10[length - 1] + random_below(rng, POW10[length - 1])
    areas = pl.DataFrame(
        {
            "prefix": codes[rows] * POW10[length] + area,
            "zone_id": fixed_zone[rows],
            "country": codes[rows],
            "kind": "area",
        }
    )

    frame = (
        pl.concat([country, special.filter(pl.col("kind") != "mobile"), mobile, sub, areas])
        .unique("prefix", keep="first", maintain_order=True)
        .with_columns(plen=pl.col("prefix").cast(pl.String).str.len_chars().cast(pl.Int64))
    )
    return frame


def zones_table(prefixes: pl.DataFrame) -> pl.DataFrame:
    """The `zones` catalog table: prefix string, zone id and zone name."""
    names = pl.DataFrame({"zone_id": [z[0] for z in ZONES], "zone_name": [z[1] for z in ZONES]})
    return (
        prefixes.select(prefix=pl.col("prefix").cast(pl.String), zone_id="zone_id")
        .join(names, on="zone_id", how="left", maintain_order="left")
        .sort("prefix")
    )


def dial_weights(prefixes: pl.DataFrame) -> pl.DataFrame:
    """How often each prefix is called: the zone's share spread evenly over its prefixes."""
    shares = pl.DataFrame({"zone_id": [z[0] for z in ZONES], "share": [z[2] for z in ZONES]})
    return (
        prefixes.join(shares, on="zone_id", how="left", maintain_order="left")
        .with_columns(weight=pl.col("share") / pl.len().over("zone_id"))
        .select("prefix", "plen", "weight")
    )


def number_blocks(rng: np.random.Generator, prefixes: pl.DataFrame, country: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` distinct blocks of 1000 subscriber numbers in `country`: (block, length).

    A block is an area code or mobile prefix plus filler digits, 7–9 digits long;
    its numbers append 3 digits (10–12 digits). No block is a prefix of another, so
    numbers from different blocks never head one another by accident.
    """
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    areas = prefixes.filter((pl.col("country") == country) & pl.col("kind").is_in(["area", "mobile"]) & (pl.col("plen") <= 6))
    area = areas["prefix"].to_numpy()
    alen = areas["plen"].to_numpy()
    size = n
    for _ in range(20):  # oversample until enough distinct, prefix-free blocks
        size = int(size * 1.5) + 64
        pick = rng.integers(0, area.size, size)
        blen = rng.integers(np.maximum(alen[pick] + 1, 7), 10)
        fill = blen - alen[pick]
        block = area[pick] * POW10[fill] + random_below(rng, POW10[fill])
        frame = pl.DataFrame({"block": block, "blen": blen}).unique("block", keep="first", maintain_order=True)
        block, blen = frame["block"].to_numpy(), frame["blen"].to_numpy()
        keep = np.ones(block.size, dtype=bool)
        for short in (7, 8):
            shorter = block[blen == short]
            for long in range(short + 1, 10):
                sel = blen == long
                keep[sel] &= ~np.isin(block[sel] // POW10[long - short], shorter)
        block, blen = block[keep], blen[keep]
        if block.size >= n:
            return block[:n], blen[:n]
    raise RuntimeError(f"could not find {n} free number blocks in country {country}: the numbering plan is too small")
