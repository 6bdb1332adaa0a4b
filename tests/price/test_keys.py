"""The packed keys pricing computes in Python and in SQL are one formula each: a record's group
(pipeline/price/walk.py group_key, macro group_key) and its rate-card cell
(pipeline/price/records.py cell_key, macro card_key)."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

import sql
from pipeline import engine
from pipeline.price.records import cell_key
from pipeline.price.walk import check_key_space, group_key

GROUPS = [
    # contract_no, ta_no, month_idx, key
    (0, 0, 0, 0),
    (1, 0, 0, 1 << 36),
    (0, 1, 0, 1 << 16),
    (7, 3, 24_321, (7 << 36) + (3 << 16) + 24_321),
    (100_000, 135, 24_319, 6_871_947_682_471_679),
    (2**26, 2**20 - 1, 65_535, (2**26 << 36) + ((2**20 - 1) << 16) + 65_535),
]
CELLS = [
    # plan_no, key_no, zone_no, band_no with nk=5, nz=4100, nb=3: key
    (0, 0, 0, 0, 0),
    (0, 0, 0, 2, 2),
    (0, 0, 1, 0, 3),
    (0, 1, 0, 0, 12_300),
    (1, 0, 0, 0, 61_500),
    (9_999, 4, 4_099, 2, 614_999_999),
]


def _macros() -> duckdb.DuckDBPyConnection:
    """A connection with the pricing macros (engine.connect loads the general ones)."""
    con = engine.connect()
    for statement in sql.statements("duck/price/macros"):
        con.execute(statement)
    return con


def test_group_key_is_the_same_in_python_and_sql():
    contract, ta, month, expected = (list(c) for c in zip(*GROUPS))
    python = group_key(np.array(contract, dtype=np.int32), np.array(ta, dtype=np.int32), np.array(month, dtype=np.int32))
    con = _macros()
    con.register("g", pl.DataFrame({"c": contract, "t": ta, "m": month}, schema={"c": pl.Int32, "t": pl.Int32, "m": pl.Int32}))
    duck = [k for (k,) in con.sql("SELECT group_key(c, t, m) FROM g").fetchall()]
    assert python.tolist() == duck == expected


def test_rate_card_cell_key_is_the_same_in_python_and_sql():
    plan, key, zone, band, expected = (list(c) for c in zip(*CELLS))
    frame = pl.DataFrame({"plan_no": plan, "key_no": key, "zone_no": zone, "band_no": band}, schema=dict.fromkeys(("plan_no", "key_no", "zone_no", "band_no"), pl.Int32))
    python = frame.select(cell_key(5, 4100, 3)).to_series().to_list()
    con = _macros()
    con.register("cells", frame)
    duck = [k for (k,) in con.sql("SELECT card_key(plan_no, key_no, zone_no, band_no, {'nk': 5, 'nz': 4100, 'nb': 3}) FROM cells").fetchall()]
    assert python == duck == expected


@pytest.mark.parametrize(
    ("contracts", "tariff_articles", "fits"),
    [
        (100_000, 5_000, True),
        (2**27 - 1, 2**19 - 1, True),
        (2**27, 1, False),  # would run into the sign bit of the group key
        (1, 2**19, False),  # 2^19 × 2^44 would run into the sign bit of a tier key
        (0, 0, True),  # a catalog without contracts
    ],
)
def test_a_catalog_beyond_what_the_packed_keys_hold_is_refused(contracts, tariff_articles, fits):
    if fits:
        check_key_space(contracts, tariff_articles)
    else:
        with pytest.raises(ValueError, match="pricing packs them into 64-bit keys"):
            check_key_space(contracts, tariff_articles)
