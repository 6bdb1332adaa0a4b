"""Identifiers as integer interval keys: the one place the key rules are written (docs/assignment.md).

Every catalog ID (a single value, a head-data prefix, a from–to range, a CIDR block) is an
interval [lo, hi] of keys, and every usage identifier is one key, so that assignment is an
interval lookup. There are two key spaces:

* the main space (Int64): `kind << 56 | value` for phone (kind 0), ipv4 (1), mac (2) and
  string IDs (3), so the kinds never overlap;
* the IPv6 space (Int128): the address minus 2**127, which keeps the unsigned order of the
  128-bit addresses in a signed Int128 (Arrow and DuckDB never see it: pipeline.assign works
  with ranks there).

Phone numbers are E.164 digits: 1–15 digits, the first one 1–9 (a country code never starts
with 0; national numbers are normalised at ingest, pipeline/ingest/numbers.py). A number of n
digits has the key (digits right-padded with 0 to 15 digits)·16 + n. A head-data ID (a prefix)
of L digits covers [key(prefix), (prefix right-padded with 9)·16 + 15]: exactly the numbers that
start with it and have at least L digits. A number range `from`–`to` (same length L) holds its
numbers and their extensions; its interval [key(from), hi(to)] spans those, but also the shorter
numbers whose digits lie between its ends (493012341, between 4930123400 and 4930123499: its
key, 493012341000000·16 + 9, lies just below 4930123410's, ·16 + 10). No order of the keys
avoids that: the range holds the extensions of 493012341 but not the number. So an ID holds a
key of its interval only when the key has at least `min_digits` digits (`digit_count`, the
key's low 4 bits): a phone ID's length (for a prefix no restriction), 0 for the other types.

>>> import polars as pl
>>> keys = pl.select(
...     lo=phone_key(pl.lit("43316812724")), n=phone_key(pl.lit("4331681272420")), hi=phone_prefix_hi(pl.lit("43316812724"))
... ).row(0)
>>> keys[0] <= keys[1] <= keys[2]
True
"""

from __future__ import annotations

import polars as pl

MAX_DIGITS = 15
KIND_SHIFT = 56
#: Kind number of each ID type in the main key space; ipv6 has a space of its own.
KINDS = {"phone": 0, "ipv4": 1, "mac": 2, "string": 3, "ipv6": 4}
IPV6_SHIFT = 2**127
IPV6_MAX = 2**127 - 1

#: What a valid value of each ID type looks like: the rule named when one does not parse.
FORMATS = {
    "phone": "E.164 digits: 1-15 digits, the first 1-9, no + or 00 (normalise national numbers first)",
    "ipv4": "a dotted quad a.b.c.d (0-255, no leading zeros), or a CIDR block a.b.c.d/n with no host bits",
    "ipv6": "an IPv6 address (RFC 4291 text, :: allowed, a dotted IPv4 tail allowed), or a CIDR block addr/n with no host bits",
    "mac": "a MAC address: 12 hex digits, as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff, any case",
    "string": "any non-empty text, matched exactly",
}

#: 10**(15-n)·16 by digit count n; n outside 1..15 gives 0, so that a text that reads as an
#: integer keeps a (never E.164) key of 0·value + n: counterparty_key tells those from no number by it
_PAD = pl.Series("pad", [0] + [10 ** (MAX_DIGITS - n) * 16 for n in range(1, MAX_DIGITS + 1)] + [0], dtype=pl.Int64)
_LOWEST = 10 ** (MAX_DIGITS - 1) * 16
_MAC = (
    r"^(?:[0-9a-f]{2}(?::[0-9a-f]{2}){5}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5}"
    r"|[0-9a-f]{4}(?:\.[0-9a-f]{4}){2}|[0-9a-f]{12})$"
)


# --- phone ------------------------------------------------------------------------------


def _padded(number: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(the number's value right-padded to 15 digits · 16, its digit count, 10**(15-n)·16) without a regex.

    A text is E.164 digits exactly when the padded value lies in [10**14·16, 10**15·16):
    the cast also reads "+12" and "-12", and those, like leading zeros, have fewer
    significant digits than characters, so they pad to less than 10**14·16. (A strict=False
    cast reads decimal digits as `str.to_integer` does, 20 % faster.)
    """
    n = number.str.len_bytes().clip(0, MAX_DIGITS + 1)
    pad = pl.lit(_PAD).gather(n)
    return number.cast(pl.Int64, strict=False) * pad, n.cast(pl.Int64), pad


def _is_e164(padded: pl.Expr) -> pl.Expr:
    return (padded >= _LOWEST) & (padded < _LOWEST * 10)


def phone_key(number: pl.Expr) -> pl.Expr:
    """The key of an E.164 digit string; null when it is not one (evaluate lazily: the parts are shared)."""
    return phone_key_of(unchecked_phone_key(number))


def unchecked_phone_key(number: pl.Expr) -> pl.Expr:
    """A text's key before the E.164 test (phone_key_of, counterparty_key_of): padded value + n,
    null exactly where the text does not read as an integer.

    Where many rows are keyed, make it a column of its own and test that in a second step
    (keyed_usage): polars' sharing of a common part of one select's expressions costs more
    (the key stage on the 10 M bench records: 0.80 cpu-s in one select, 0.61 in two steps).
    """
    padded, n, _ = _padded(number)
    return padded + n


def phone_key_of(unchecked: pl.Expr) -> pl.Expr:
    """The phone key of an unchecked_phone_key; null unless the text was E.164 digits.

    The range test runs on the key itself: padded values are multiples of 16 and 0 < n < 16,
    so the key is in range exactly when the padded value is (one pass fewer on 10 M rows).
    """
    return pl.when(_is_e164_key(unchecked)).then(unchecked)


def _is_e164_key(unchecked: pl.Expr) -> pl.Expr:
    return unchecked.is_between(_LOWEST, _LOWEST * 10 - 1)


#: The counterparty key of digits that are no E.164 number (a national form `0316…`, more than 15
#: digits): a called number all the same, in no zone, never "no called number" (counterparty_key).
NOT_E164 = 0


def counterparty_key(number: pl.Expr) -> pl.Expr:
    """The key of a record's counterparty: phone_key of a called number; NOT_E164 for digits that
    are no E.164 number, so pricing takes it for a number outside every zone (the catch-all zone,
    else unrateable), not for a record without a called number (its key's row for every zone);
    null for none, or for another counterparty (a peer address).

    >>> pl.select(counterparty_key(pl.lit(s)).alias(s) for s in ("4331612345", "0316123456", "10.0.0.1")).row(0)
    (6930579752000010, 0, None)
    """
    return counterparty_key_of(unchecked_phone_key(number))


def counterparty_key_of(unchecked: pl.Expr) -> pl.Expr:
    """counterparty_key of an unchecked_phone_key: that is not null exactly where the text reads
    as an integer (_PAD is 0, not null, for lengths outside 1-15), so one parse tells both."""
    return pl.when(_is_e164_key(unchecked)).then(unchecked).when(unchecked.is_not_null()).then(NOT_E164)


def phone_prefix_hi(number: pl.Expr) -> pl.Expr:
    """The last key a head-data ID (or a range's upper end) covers: (value + 1)·10**(15-n)·16 - 1."""
    padded, _, pad = _padded(number)
    return pl.when(_is_e164(padded)).then(padded + pad - 1)


def digit_count(key: pl.Expr) -> pl.Expr:
    """The digit count of a phone key (its low 4 bits); of any other key a number from 0 to 15,
    which the intervals of other types ignore (their `min_digits` is 0). Of the key's dtype.

    >>> pl.select(digit_count(phone_key(pl.lit("493012341")))).item()
    9
    """
    return key & 15


def _digits(number: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value, digit count, is 1-15 digits without a leading zero) of a decimal text, e.g. an IPv4 octet."""
    padded, n, _ = _padded(number)
    return number.str.to_integer(strict=False), n, _is_e164(padded)


# --- IPv4, MAC ----------------------------------------------------------------------------


def ipv4_value(text: pl.Expr) -> pl.Expr:
    """A dotted quad as its 32-bit value (Int64); null unless four decimal octets 0-255 without leading zeros.
    Blanks around it are dropped, as for every other type."""
    text = text.str.strip_chars()
    parts = text.str.split_exact(".", 3)
    value = pl.lit(0, pl.Int64)
    ok = text.str.count_matches(".", literal=True) == 3
    for i in range(4):
        octet, n, digits_ok = _digits(parts.struct.field(f"field_{i}"))
        ok = ok & (digits_ok | (parts.struct.field(f"field_{i}") == "0")) & (n <= 3) & (octet <= 255)
        value = value * 256 + octet
    return pl.when(ok & (value < 2**32)).then(value)


def mac_value(text: pl.Expr) -> pl.Expr:
    """A MAC address in any usual notation as its 48-bit value (Int64); null when it is not one."""
    t = text.str.strip_chars().str.to_lowercase()
    return pl.when(t.str.contains(_MAC)).then(t.str.replace_all(r"[:.\-]", "").str.to_integer(base=16, strict=False))


def mac_text(text: pl.Expr) -> pl.Expr:
    """A MAC address in the canonical notation aa:bb:cc:dd:ee:ff; null when it is not one."""
    t = text.str.strip_chars().str.to_lowercase()
    bare = t.str.replace_all(r"[:.\-]", "")
    pairs = [bare.str.slice(2 * i, 2) for i in range(6)]
    return pl.when(t.str.contains(_MAC)).then(pl.concat_str(pairs, separator=":"))


# --- IPv6 --------------------------------------------------------------------------------


def _hex8(value: pl.Expr) -> pl.Expr:
    """A 32-bit value as 8 hex digits (for a dotted IPv4 tail)."""
    digits = "0123456789abcdef"
    nibbles = [((value // 16 ** (7 - i)) % 16).replace_strict(list(range(16)), list(digits), return_dtype=pl.String) for i in range(8)]
    return pl.concat_str(nibbles)


def ipv6_values(texts: pl.Series) -> pl.Series:
    """IPv6 addresses as Int128 keys (address - 2**127); null where one is not an address.

    Accepts the RFC 4291 forms: eight groups, `::` once for a run of zero groups, and a
    dotted IPv4 address as the last 32 bits (`::ffff:192.0.2.1`). Zone IDs (`%eth0`) are
    not IDs. Computed in stages (each step a column), so the expression stays small.
    """
    c = pl.col
    steps = (
        pl.LazyFrame({"t": texts}, schema={"t": pl.String})
        .with_columns(c("t").str.strip_chars().str.to_lowercase())
        .with_columns(
            c("t").str.extract(r"^(.*:)(\d+\.\d+\.\d+\.\d+)$", 2).alias("tail4"),
            c("t").str.extract(r"^(.*:)\d+\.\d+\.\d+\.\d+$", 1).alias("head4"),
        )
        .with_columns(
            ipv4_value(c("tail4")).alias("v4"),
            # the groups before the IPv4 tail: its separating ":" dropped, unless it ends a "::"
            # ("::ffff:1.2.3.4" -> "::ffff", "64:ff9b::1.2.3.4" -> "64:ff9b::", "::1.2.3.4" -> "::")
            pl.when(c("tail4").is_null()).then(c("t"))
            .when(c("head4").str.ends_with("::")).then(c("head4"))
            .otherwise(c("head4").str.strip_suffix(":")).alias("body"),
        )
        .with_columns(c("body").str.contains("::", literal=True).alias("compressed"), c("body").str.split_exact("::", 1).alias("halves"))
        .with_columns(
            pl.when(c("compressed")).then(c("halves").struct.field("field_0")).otherwise(c("body")).alias("head"),
            pl.when(c("compressed")).then(c("halves").struct.field("field_1")).otherwise(pl.lit("")).alias("tail"),
        )
        .with_columns(*_groups("head", "h"), *_groups("tail", "tl"))
        .with_columns(
            (c("tl_hex") + pl.when(c("tail4").is_not_null()).then(_hex8(c("v4"))).otherwise(pl.lit(""))).alias("tl_hex"),
            (c("h_n") + c("tl_n") + pl.when(c("tail4").is_not_null()).then(2).otherwise(0)).alias("units"),
        )
        .with_columns(
            pl.concat_str(
                "h_hex",
                pl.lit("0" * 32).str.slice(0, (32 - c("h_hex").str.len_bytes() - c("tl_hex").str.len_bytes()).clip(0, 32)),
                "tl_hex",
            ).alias("full"),
            (
                c("h_ok") & c("tl_ok") & (c("tail4").is_null() | c("v4").is_not_null())
                & pl.when(c("compressed"))
                .then((c("units") <= 7) & (c("body").str.count_matches("::", literal=True) == 1) & ~c("body").str.contains(":::", literal=True))
                .otherwise(c("units") == 8)
            ).alias("ok"),
        )
        .select(
            pl.when(c("ok") & (c("full").str.len_bytes() == 32)).then(
                (c("full").str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False).cast(pl.Int128) - pl.lit(2**63, pl.Int128))
                * pl.lit(2**64, pl.Int128)
                + c("full").str.slice(16, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False).cast(pl.Int128)
            ).alias("key")
        )
    )
    return steps.collect().to_series().rename(texts.name)


def _groups(part: str, prefix: str) -> list[pl.Expr]:
    """`<prefix>hex` (the groups as 4-digit hex, joined), `<prefix>_n` (how many), `<prefix>_ok` (each 1-4 hex digits)."""
    text = pl.col(part)
    groups = pl.when(text == "").then(pl.lit([], pl.List(pl.String))).otherwise(text.str.split(":"))
    return [
        groups.list.eval(pl.element().str.pad_start(4, "0")).list.join("").alias(f"{prefix}_hex"),
        groups.list.len().alias(f"{prefix}_n"),
        groups.list.eval(pl.element().str.contains(r"^[0-9a-f]{1,4}$")).list.all().alias(f"{prefix}_ok"),
    ]


# --- catalog IDs as intervals ------------------------------------------------------------------


def main_key(kind: str, value: pl.Expr) -> pl.Expr:
    """A value of a main-space kind moved into that kind's part of the Int64 key space."""
    return value + pl.lit(KINDS[kind] << KIND_SHIFT, pl.Int64)


def id_intervals(device_ids: pl.DataFrame) -> pl.DataFrame:
    """Each catalog ID row as an interval of keys, and whether its `id_value` and `id_to` are valid.

    Returns `device_ids` (same rows, same order) plus `lo`, `hi` (Int128 keys of either space;
    null where the row is invalid), `min_digits` (Int8: the ID holds a key of [lo, hi] only
    when its digit_count is at least this; a phone ID's length, else 0), `space` (0 main,
    1 IPv6), `match_kind` (prefix, range, exact, cidr), `value_ok` and `to_ok` (id_to empty,
    or a valid upper end: same type, not below id_value, for phone numbers the same length;
    string IDs and CIDR blocks have none). Each type's rule runs on that type's rows only.
    """
    rows = device_ids.with_row_index("_row").with_columns(
        pl.col("id_value").str.strip_chars().alias("_v"), pl.col("id_to").str.strip_chars().alias("_to")
    )
    strings = string_intervals(device_ids)
    parts = []
    for id_type, rule in _CATALOG_RULES.items():
        part = rows.filter(pl.col("id_type") == id_type)
        if id_type == "ipv6":
            address = part.select(_ADDRESS.alias("a")).to_series()
            part = part.with_columns(ipv6_values(address).alias("_v6"), ipv6_values(part.get_column("_to")).alias("_v6_to"))
        if part.height:
            parts.append(part.lazy().with_columns(**rule(strings)).drop("_v6", "_v6_to", strict=False).collect())
    other = rows.filter(~pl.col("id_type").is_in(list(_CATALOG_RULES)))
    parts.append(
        other.with_columns(
            lo=pl.lit(None, pl.Int128), hi=pl.lit(None, pl.Int128), min_digits=pl.lit(0, pl.Int8), match_kind=pl.lit(None, pl.String), value_ok=pl.lit(False), to_ok=pl.lit(False)
        )
    )
    framed = pl.concat(parts, how="diagonal_relaxed").sort("_row")
    framed = framed.with_columns(
        pl.when(pl.col("id_type") == "ipv6").then(1).otherwise(0).cast(pl.Int8).alias("space"),
        pl.col("value_ok").fill_null(False),
        (pl.col("to_ok").fill_null(False) & (pl.col("hi") >= pl.col("lo")).fill_null(True)).alias("to_ok"),
    )
    ok = pl.col("value_ok") & pl.col("to_ok")
    return framed.select(
        *device_ids.columns,
        pl.when(ok).then(pl.col("lo").cast(pl.Int128)).alias("lo"),
        pl.when(ok).then(pl.col("hi").cast(pl.Int128)).alias("hi"),
        pl.col("min_digits").fill_null(0).cast(pl.Int8),
        "space",
        pl.col("match_kind").cast(pl.String),
        "value_ok",
        "to_ok",
    )


_V, _TO = pl.col("_v"), pl.col("_to")
_HAS_TO = _TO.is_not_null()
_IS_CIDR = _V.str.contains("/", literal=True)
_ADDRESS = _V.str.extract(r"^([^/]*)", 1)
_BITS = pl.when(_V.str.contains(r"^[^/]+/\d{1,3}$")).then(_V.str.extract(r"/(\d{1,3})$", 1).str.to_integer(strict=False))


def _main(kind: str, value: pl.Expr) -> pl.Expr:
    return value.cast(pl.Int128) + pl.lit(KINDS[kind] << KIND_SHIFT, pl.Int128)


def _phone_rule(_strings: pl.DataFrame) -> dict[str, pl.Expr]:
    return {
        "lo": _main("phone", phone_key(_V)),
        "hi": _main("phone", pl.when(_HAS_TO).then(phone_prefix_hi(_TO)).otherwise(phone_prefix_hi(_V))),
        # a range's interval also holds shorter numbers between its ends; a prefix's holds none
        "min_digits": _V.str.len_bytes().clip(0, MAX_DIGITS).cast(pl.Int8),
        "match_kind": pl.when(_HAS_TO).then(pl.lit("range")).otherwise(pl.lit("prefix")),
        "value_ok": phone_key(_V).is_not_null(),
        "to_ok": ~_HAS_TO | (phone_key(_TO).is_not_null() & (_TO.str.len_bytes() == _V.str.len_bytes())),
    }


def _ip_rule(kind: str, address: pl.Expr, upper: pl.Expr, width: int, lowest: int):
    """The rule of an IP type, given the keys of `id_value`'s address part and of `id_to`."""

    def rule(_strings: pl.DataFrame) -> dict[str, pl.Expr]:
        base = address.cast(pl.Int128)
        last, cidr_ok = _cidr(base, _BITS, width, lowest)
        shift = (lambda e: _main(kind, e)) if kind == "ipv4" else (lambda e: e)
        return {
            "lo": shift(base),
            "hi": shift(pl.when(_HAS_TO).then(upper.cast(pl.Int128)).when(_IS_CIDR).then(last).otherwise(base)),
            "match_kind": pl.when(_HAS_TO).then(pl.lit("range")).when(_IS_CIDR).then(pl.lit("cidr")).otherwise(pl.lit("exact")),
            "value_ok": pl.when(_IS_CIDR).then(cidr_ok).otherwise(base.is_not_null()),
            "to_ok": ~_HAS_TO | (upper.is_not_null() & ~_IS_CIDR),
        }

    return rule


def _mac_rule(_strings: pl.DataFrame) -> dict[str, pl.Expr]:
    return {
        "lo": _main("mac", mac_value(_V)),
        "hi": _main("mac", pl.when(_HAS_TO).then(mac_value(_TO)).otherwise(mac_value(_V))),
        "match_kind": pl.when(_HAS_TO).then(pl.lit("range")).otherwise(pl.lit("exact")),
        "value_ok": mac_value(_V).is_not_null(),
        "to_ok": ~_HAS_TO | mac_value(_TO).is_not_null(),
    }


def _string_rule(strings: pl.DataFrame) -> dict[str, pl.Expr]:
    key = _V.replace_strict(strings.get_column("value"), strings.get_column("key"), default=None, return_dtype=pl.Int64)
    return {
        "lo": key.cast(pl.Int128),
        "hi": key.cast(pl.Int128),
        "match_kind": pl.lit("exact"),
        "value_ok": _V.str.len_bytes() > 0,
        "to_ok": ~_HAS_TO,
    }


_CATALOG_RULES = {
    "phone": _phone_rule,
    "ipv4": _ip_rule("ipv4", ipv4_value(_ADDRESS), ipv4_value(_TO), 32, 0),
    # IPv6 keys are computed in stages beforehand (ipv6_values), into these columns
    "ipv6": _ip_rule("ipv6", pl.col("_v6"), pl.col("_v6_to"), 128, -IPV6_SHIFT),
    "mac": _mac_rule,
    "string": _string_rule,
}


def _cidr(base: pl.Expr, bits: pl.Expr, width: int, lowest: int) -> tuple[pl.Expr, pl.Expr]:
    """(last key, is a valid block) of the block `base/bits` in a space of `width` bits starting at `lowest`.

    The host part must be zero. The key shift of IPv6 (2**127) is a multiple of every block
    size but the whole space's, so host bits read the same on shifted keys; /0 is the whole space.
    """
    host = pl.lit(pl.Series([None] + [2 ** (width - b) - 1 for b in range(1, width + 1)], dtype=pl.Int128)).gather(bits.clip(0, width))
    whole = bits == 0
    last = pl.when(whole).then(pl.lit(lowest + 2**width - 1, pl.Int128)).otherwise(base + host)
    ok = base.is_not_null() & bits.is_not_null() & (bits <= width) & pl.when(whole).then(base == lowest).otherwise((base & host) == 0)
    return last, ok


def string_intervals(device_ids: pl.DataFrame) -> pl.DataFrame:
    """The catalog's distinct string IDs, each with its code as a main-space key (`value`, `key`)."""
    values = device_ids.filter(pl.col("id_type") == "string").get_column("id_value").str.strip_chars().unique().sort()
    return pl.DataFrame({"value": values}, schema={"value": pl.String}).with_columns(
        main_key("string", pl.int_range(pl.len(), dtype=pl.Int64)).alias("key")
    )
