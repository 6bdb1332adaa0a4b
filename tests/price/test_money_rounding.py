"""The rounding in NumPy and Polars (pipeline/price/records.py div_half_up and micro_to_cents: per record
and per invoice line) and in DuckDB (sql/duck/macros.sql: billing's sums) is one rule: half away from zero."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from pipeline import engine
from pipeline.price.records import div_half_up, micro_to_cents

CASES = [
    # x, d, x / d rounded half away from zero
    (0, 60, 0),
    (29, 60, 0),
    (30, 60, 1),  # exactly half: away from zero
    (31, 60, 1),
    (-30, 60, -1),
    (-29, 60, 0),
    (19_000 * 1, 60, 317),  # 0.0190 € per 60 s charged for 1 s: 316.666… micro-units
    (15, 10, 2),
    (25, 10, 3),
    (-25, 10, -3),
    (4_755, 10_000, 0),  # fifteen 1 s records: 0.004755 € → 0.00 €
    (5_000, 10_000, 1),
    (2**61, 3, 768614336404564651),
]
#: Beyond 2^61 the doubled numerator leaves 64 bits: pricing then computes in 128 bits.
WIDE = [(2**62, 3, 1537228672809129301), (-(2**62) - 1, 2, -(2**61) - 1)]


@pytest.mark.parametrize(
    "x, d, expected, dtype", [(*c, pl.Int64) for c in CASES] + [(*c, pl.Int128) for c in CASES + WIDE]
)
def test_the_polars_rounding_rounds_half_away_from_zero(x, d, expected, dtype):
    frame = pl.DataFrame({"x": [x], "d": [d]}, schema={"x": dtype, "d": dtype})
    assert frame.select(div_half_up(pl.col("x"), pl.col("d"))).item() == expected


@pytest.mark.parametrize("x, d, expected", CASES)
def test_the_numpy_rounding_gives_the_same(x, d, expected):
    assert div_half_up(np.array([x], dtype=np.int64), np.array([d], dtype=np.int64)).tolist() == [expected]


@pytest.mark.parametrize("x, d, expected", CASES + WIDE)
def test_the_sql_rounding_gives_the_same(x, d, expected):
    con = engine.connect()
    assert con.execute("SELECT div_half_up(CAST(? AS BIGINT), CAST(? AS BIGINT))", [x, d]).fetchall()[0][0] == expected


#: A line's summed micro-units, its amount in cents (DECIMAL(18,2)).
CENTS = [
    (0, "0.00"),
    (4_999, "0.00"),
    (5_000, "0.01"),  # half a cent: away from zero
    (-5_000, "-0.01"),
    (-15_000, "-0.02"),
    (4_755, "0.00"),  # fifteen 1 s records at 0.0190 € per 60 s
    (1_553_204_355_000, "1553204.36"),
    (2**63 - 1, "9223372036854.78"),  # past 2^62 the doubled sum leaves 64 bits: rounded in 128
    (-(2**63) + 1, "-9223372036854.78"),
    (10**22, None),  # more than DECIMAL(18,2) holds: refused
]


@pytest.mark.parametrize("micro, cents", CENTS)
def test_an_invoice_line_rounds_to_cents_alike_in_polars_and_sql(micro, cents):
    con = engine.connect()
    frame = pl.DataFrame({"micro": [micro]}, schema={"micro": pl.Int128})
    if cents is None:
        with pytest.raises(pl.exceptions.InvalidOperationError):
            frame.select(micro_to_cents(pl.col("micro")))
        with pytest.raises(Exception, match="(?i)overflow|out of range|conver"):
            con.execute("SELECT micro_to_cents(CAST(? AS HUGEINT))", [micro]).fetchall()
        return
    assert frame.select(micro_to_cents(pl.col("micro"))).item() == Decimal(cents)
    assert con.execute("SELECT micro_to_cents(CAST(? AS HUGEINT))", [micro]).fetchall()[0][0] == Decimal(cents)


@pytest.mark.parametrize(
    ("price", "micro"),
    [
        ("0.060000", 60_000),
        ("999999.990000", 999_999_990_000),
        ("1000000.000000", 1_000_000_000_000),  # overflowed DECIMAL(18,6) before: 10^6 × 10^6 has 19 digits
        ("999999999999.999999", 999_999_999_999_999_999),  # the largest DECIMAL(18,6)
        ("-1000000.000001", -1_000_000_000_001),
    ],
)
def test_a_catalog_amount_in_micro_units_is_exact_up_to_the_largest_decimal(price, micro):
    con = engine.connect()
    assert con.execute("SELECT to_micro(CAST(? AS DECIMAL(18,6)))", [price]).fetchall()[0][0] == micro
