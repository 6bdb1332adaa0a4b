"""Identifiers as integer interval keys: the one place the key rule is written.

Phone numbers (docs/assignment.md): a number of n ≤ 15 digits has the key
(digits right-padded with 0 to 15 digits) · 16 + n. A head-data ID (a prefix) of L
digits covers [key(prefix), (prefix right-padded with 9) · 16 + 15]: exactly the
numbers that start with it and are at least L digits long. A number range
`from`–`to` (same length) covers [key(from), hi(to)]: the block and its extensions.

>>> import polars as pl
>>> pl.select(phone_key(pl.lit("43316812724"))).item() <= pl.select(phone_key(pl.lit("4331681272420"))).item() <= pl.select(phone_prefix_hi(pl.lit("43316812724"))).item()
True
"""

from __future__ import annotations

import polars as pl

MAX_DIGITS = 15
_DIGITS = r"^[0-9]{1,15}$"


def phone_key(number: pl.Expr) -> pl.Expr:
    """The key of an E.164 digit string; null when it is not 1–15 digits."""
    return pl.when(number.str.contains(_DIGITS)).then(
        number.str.pad_end(MAX_DIGITS, "0").cast(pl.Int64, strict=False) * 16 + number.str.len_bytes().cast(pl.Int64)
    )


def phone_prefix_hi(number: pl.Expr) -> pl.Expr:
    """The last key a head-data ID (or a range's upper end) covers."""
    return pl.when(number.str.contains(_DIGITS)).then(
        number.str.pad_end(MAX_DIGITS, "9").cast(pl.Int64, strict=False) * 16 + 15
    )
