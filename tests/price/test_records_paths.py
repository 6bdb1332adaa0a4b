"""The paths of pipeline/price/records.py and walk.py the other pricing tests and the bench data
do not take: a rate-card price cut in time, the binary-search rate card, the two-column walk
order, daylight-saving change days in a banded tariff, 128-bit amounts, and catalogs where no
record can have a band or a contract (tests/price/factory.py has the core catalog)."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from pipeline import engine, threads
from pipeline.price import records, walk
from tests.price.factory import CORE, K_EX, K_RC, K_SEC, at, calls, priced, rate_priced, rated, usage

D = Decimal


# --- a rate-card price that changes mid-period (card_cut) ---------------------------------------

#: T-SEC's A-NAT costs 0.0600 until 14 October, 0.0300 from 15 October (valid_until is exclusive);
#: A-MOB has a price only from 10 October.
CUT_PRICES = {
    "prices": {
        "tariff_id": ["T-SEC"] * 7,
        "article_id": ["A-NAT", "A-NAT", "A-MOB", "A-LOCAL", "A-SMS", "A-GB", "A-GIB"],
        "price": ["0.0600", "0.0300", "0.0600", "0.0600", "0.0600", "0.0600", "0.0600"],
        "valid_from": [None, "2026-10-15", "2026-10-10", None, None, None, None],
        "valid_until": ["2026-10-15", None, None, None, None, None, None],
    }
}


@pytest.mark.parametrize(
    ("start", "counterparty", "price", "amount"),
    [
        ("2026-10-14 23:59:59", "4312345678", "0.060000", "0.060000"),  # last second of the old price
        ("2026-10-15 00:00:00", "4312345678", "0.030000", "0.030000"),  # first second of the new one
        ("2026-10-31 23:59:59", "4312345678", "0.030000", "0.030000"),
        ("2026-10-10 00:00:00", "4366123456", "0.060000", "0.060000"),  # a price valid from a day on
    ],
)
def test_a_rate_card_price_changing_mid_period_prices_each_call_by_its_start(start, counterparty, price, amount):
    result = rate_priced(calls(K_SEC, (start, 60, counterparty)), priced(core=CUT_PRICES))
    assert rated(result, "price", "price_ref", "amount").row(0) == (D(price), "prices:T-SEC", D(amount))


def test_a_call_before_a_rate_card_price_begins_is_unrateable_never_zero():
    result = rate_priced(calls(K_SEC, ("2026-10-09 23:59:59", 60, "4366123456")), priced(core=CUT_PRICES))
    assert result.counts()["unrateable"] == 1
    assert result.table("invoice_lines").pl().height == 0


# --- the binary-search rate card (DENSE_CELLS) gives the dense lookup's amounts ------------------

BANDED = {
    "time_bands": {"tariff_id": ["T-SEC"], "band": ["offpeak"], "days": ["sat-sun"], "from_time": ["00:00"], "until_time": ["24:00"]},
    "band_prices": {"tariff_id": ["T-SEC"], "article_id": ["A-NAT"], "band": ["offpeak"], "price": ["0.0200"]},
}
OWN_PRICES = {
    "customer_prices": {"customer_id": ["C2"], "article_id": ["A-MOB"], "price": ["0.0400"]},
    "special_prices": {"contract_id": ["K-SEC"], "kind": ["friends"], "number": ["4312345678"], "price": ["0.0100"]},
}
#: Calls of K-SEC to a friend on a Thursday, to a mobile on a Saturday, then after the A-NAT price
#: change to a national number on a Friday and a Saturday, and to a number of no zone.
MIXED_CALLS = calls(
    K_SEC,
    ("2026-10-01 10:00:00", 60, "4312345678"),
    ("2026-10-10 10:00:00", 60, "4366123456"),
    ("2026-10-16 10:00:00", 120, "4930999"),
    ("2026-10-17 10:00:00", 60, "4312399999"),
    ("2026-10-17 10:00:00", 60, "33123456"),
)


@pytest.mark.parametrize(
    ("tables", "amounts"),
    [
        ({}, ["0.060000", "0.060000", "0.120000", "0.060000"]),
        ({**CUT_PRICES}, ["0.060000", "0.060000", "0.060000", "0.030000"]),
        ({**BANDED}, ["0.060000", "0.060000", "0.120000", "0.020000"]),
        ({**OWN_PRICES}, ["0.010000", "0.040000", "0.120000", "0.060000"]),
        ({**CUT_PRICES, **BANDED, **OWN_PRICES}, ["0.010000", "0.040000", "0.060000", "0.020000"]),
    ],
    ids=["plain", "cut", "banded", "customer-special", "all"],
)
@pytest.mark.parametrize("dense_cells", [records.DENSE_CELLS, 0], ids=["dense", "binary-search"])
def test_the_rate_card_by_binary_search_prices_like_the_dense_lookup(monkeypatch, dense_cells, tables, amounts):
    monkeypatch.setattr(records, "DENSE_CELLS", dense_cells)
    core = {k: v for k, v in tables.items() if k == "prices"}
    result = rate_priced(MIXED_CALLS, priced(core=core, **{k: v for k, v in tables.items() if k != "prices"}))
    assert rated(result, "amount").get_column("amount").to_list() == [D(a) for a in amounts]
    assert result.counts()["unrateable"] == 1  # 33123456: no zone, no piece either way


# --- walk order: group, start to the millisecond, input row ------------------------------------

#: (contract_no, ta_no, month_idx, t_us) per input row, and the walk order of the rows.
WALK_ROWS = [
    (2, 1, 0, 5_000_000),
    (1, 1, 0, 9_000_000),
    (1, 1, 0, 3_000_900),  # same millisecond as the next row, later microsecond: input row decides
    (1, 1, 0, 3_000_100),
    (1, 2, 0, 1_000_000),
    (1, 1, 1, 1_000_000),  # next month of the same contract and article
    (1, 1, 0, 3_000_900),  # an exact tie with row 2 (from 0)
]
WALK_ORDER = [2, 3, 6, 1, 5, 4, 0]  # rows counted from 0


def _walk_table(rows, contract_base: int, ms_base: int) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["contract_no", "ta_no", "month_idx", "t_us"], orient="row").with_columns(
        pl.col("contract_no") + contract_base, pl.col("month_idx") + 24_300, pl.col("t_us") + ms_base * 1000
    )
    return frame.with_columns((pl.col("contract_no") * 2**36 + pl.col("ta_no") * 2**16 + pl.col("month_idx")).alias("gk"))


@pytest.mark.parametrize(
    ("contract_base", "ms_base", "extra"),
    [
        (0, 1_790_000_000_000, None),  # a few bits each: two sorts of packed 64-bit values
        (2**26, 1_790_000_000_000, None),  # 27-bit contract numbers, still packed
        (2**26, 0, (9, 9, 0, -1_790_000_000_000_000)),  # … and a span of 56 years of milliseconds, still packed
        # 27-bit contracts, 20-bit tariff-article numbers and 15 bits of months: a BIGINT group number
        (2**26, 1_790_000_000_000, (9, 2**19, 30_000, 1_790_000_000_000_000)),
    ],
    ids=["packed", "packed-wide-contracts", "packed-wide-span", "wide-groups"],
)
# 63: the millisecond and the position packed in one key; 0: as two columns, as when a run spans more
# milliseconds than the packed key holds beside its positions (2^39 ms, 17 years, at 10 M records)
@pytest.mark.parametrize("packed_bits", [63, 0], ids=["one-time-key", "time-and-row-columns"])
def test_walk_order_is_group_then_millisecond_then_input_row(monkeypatch, contract_base, ms_base, extra, packed_bits):
    monkeypatch.setattr(walk, "PACKED_BITS", packed_bits)
    table = _walk_table(WALK_ROWS, contract_base, ms_base)
    expected = WALK_ORDER
    if extra is not None:  # a record of the largest contract, sorted last, widens the key
        table = pl.concat([table, _walk_table([extra[:3] + (0,)], contract_base, 0).with_columns(pl.lit(extra[3]).alias("t_us"))])
        expected = WALK_ORDER + [7]
    arrays = [table.get_column(c).to_numpy() for c in ("contract_no", "ta_no", "month_idx", "t_us")]
    con = engine.connect()
    rows, gk = walk.walk_order(con, *arrays)
    assert rows.tolist() == expected
    assert gk.tolist() == table.get_column("gk").gather(expected).to_list()
    some = np.array([0, 2, 4, 6], dtype=np.int64)  # only some rows: the same order among them
    assert walk.walk_order(con, *arrays, some)[0].tolist() == [r for r in expected if r in some]


@pytest.mark.parametrize(
    ("gk", "parts", "expected"),
    [
        ([], 4, []),
        ([5, 5, 5, 5], 4, [(0, 4)]),  # one group is one part, however many parts are asked for
        ([1, 1, 2, 2, 3, 3, 4, 4], 4, [(0, 2), (2, 4), (4, 6), (6, 8)]),
        ([1, 1, 2, 2, 2, 2, 3, 3], 2, [(0, 2), (2, 8)]),  # the cut moves back to where the group at it starts
    ],
)
def test_group_slices_cut_only_where_a_group_starts(gk, parts, expected):
    slices = walk.group_slices(np.array(gk, dtype=np.int64), parts)
    assert [(s.start, s.stop) for s in slices] == expected


@pytest.mark.parametrize("piece_rows", [None, 1_000], ids=["one-piece", "pieces-on-both-cores"])
def test_walk_order_packed_and_as_columns_agree_with_a_stable_sort_by_group_and_millisecond(monkeypatch, piece_rows):
    """The sort of (group, millisecond · position) and that of (group, millisecond, position) give
    the order of a stable sort by (group key, millisecond), ties included, whether the keys are made
    in one piece or in pieces on both cores (threads.in_pieces)."""
    if piece_rows:
        monkeypatch.setattr(threads, "PIECE_ROWS", piece_rows)
    rng = np.random.default_rng(7)
    n = 20_000
    contract, ta = rng.integers(1, 50, n), rng.integers(0, 4, n)
    month = rng.integers(24_300, 24_303, n)
    t_us = 1_790_000_000_000_000 + rng.integers(0, 3_000, n) * 1000 + rng.integers(0, 1000, n)  # many ties in the millisecond
    rows = np.flatnonzero(rng.random(n) < 0.7)
    gk = walk.group_key(contract[rows], ta[rows], month[rows])
    stable = np.lexsort((t_us[rows] // 1000, gk))  # the last key sorts first; equal keys keep their order
    con = engine.connect()
    packed = walk.walk_order(con, contract, ta, month, t_us, rows)
    monkeypatch.setattr(walk, "PACKED_BITS", 0)
    as_columns = walk.walk_order(con, contract, ta, month, t_us, rows)
    for ordered, keys in (packed, as_columns):
        assert np.array_equal(ordered, rows[stable]) and np.array_equal(keys, gk[stable])


# --- daylight-saving change days in a banded tariff ---------------------------------------------

#: Sunday bands of T-SEC (Europe/Berlin for K-SEC): early 00-02, mid 02-03, late 03-24 local.
SUNDAY_BANDS = {
    "time_bands": {
        "tariff_id": ["T-SEC"] * 3, "band": ["early", "mid", "late"], "days": ["sun"] * 3,
        "from_time": ["00:00", "02:00", "03:00"], "until_time": ["02:00", "03:00", "24:00"],
    },
    "band_prices": {
        "tariff_id": ["T-SEC"] * 3, "article_id": ["A-NAT"] * 3, "band": ["early", "mid", "late"],
        "price": ["0.0100", "0.0200", "0.0300"],
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("start_utc", "band", "amount"),
    [
        # 29 March 2026: CET (+1) until 01:00 UTC, then CEST (+2); local 02:00-03:00 does not exist
        ("2026-03-28 23:30:00", "early", "0.010000"),  # Saturday in UTC, Sunday 00:30 CET
        ("2026-03-29 00:59:59", "early", "0.010000"),  # 01:59:59 CET
        ("2026-03-29 01:00:00", "late", "0.030000"),  # 03:00 CEST
        # 25 October 2026: CEST (+2) until 01:00 UTC, then CET (+1); local 02:00-03:00 happens twice
        ("2026-10-24 21:59:59", None, "0.060000"),  # Saturday 23:59:59 CEST: no band, the base price
        ("2026-10-24 22:00:00", "early", "0.010000"),  # Sunday 00:00 CEST
        ("2026-10-25 00:30:00", "mid", "0.020000"),  # 02:30 CEST (the day's offset after the change: 01:30)
        ("2026-10-25 00:59:59", "mid", "0.020000"),  # 02:59:59 CEST
        ("2026-10-25 01:00:00", "mid", "0.020000"),  # 02:00 CET, the second time (the offset before: 03:00)
        ("2026-10-25 01:30:00", "mid", "0.020000"),  # 02:30 CET
        ("2026-10-25 02:00:00", "late", "0.030000"),  # 03:00 CET
    ],
)
def test_a_banded_call_on_a_daylight_saving_change_day_takes_the_offset_at_its_start(start_utc, band, amount):
    result = rate_priced(calls(K_SEC, (start_utc, 60)), priced(**SUNDAY_BANDS))
    assert rated(result, "band", "amount").row(0) == (band, D(amount))


# --- 128-bit amounts ---------------------------------------------------------------------------


def _per(article: str, price_per: int) -> dict:
    """CORE's articles with `article` priced per `price_per` units."""
    articles = CORE["articles"]
    per = [str(price_per) if a == article else p for a, p in zip(articles["article_id"], articles["price_per"])]
    return {"articles": {**articles, "price_per": per}}


@pytest.mark.parametrize(
    ("article", "key", "price_per", "volume", "amount"),
    [
        ("A-GB", "data", 10**9, 1_000_000_000, "0.060000"),  # 64-bit
        ("A-GB", "data", 10**9, 200_000_000_000_001, "12000.000000"),  # 0.06 × 2·10¹⁴ B ≥ 2^62 micro-units · B
        ("A-GB", "data", 10**9, 200_000_000_025_000, "12000.000002"),  # …  12 000 000 001.5 µ: half away from zero
        # 0.06 per PiB (2^50 B) × 76.9 TB = 4 095.99… µ: the product fits 64 bits, product × 2 + price_per does not
        ("A-GIB", "data-gib", 2**50, 76_860_847_234_254, "0.004096"),
    ],
)
def test_amounts_whose_product_leaves_64_bits_are_computed_in_128(article, key, price_per, volume, amount):
    records_ = usage(subscriber_id=[K_SEC], article_key=[key], counterparty=[None], duration_s=[None], volume_bytes=[volume])
    result = rate_priced(records_, priced(core=_per(article, price_per)))
    assert rated(result, "quantity", "amount").row(0) == (volume, D(amount))


# --- catalogs where no record can have a band or a contract --------------------------------------

SUNDAY_BANDS_OF_T_MIN = {
    "time_bands": {**SUNDAY_BANDS["time_bands"], "tariff_id": ["T-MIN"] * 3},
    "band_prices": {**SUNDAY_BANDS["band_prices"], "tariff_id": ["T-MIN"] * 3},
}
NO_CONTRACTS = {"contracts": {c: [] for c in CORE["contracts"]}, "device_ids": {c: [] for c in CORE["device_ids"]}}
ALL_ON_T_SEC = {"contracts": {**CORE["contracts"], "tariff_id": ["T-SEC"] * 4}}


@pytest.mark.parametrize(
    ("subscriber", "core", "tables", "outcome"),
    [
        ("999000111", {}, SUNDAY_BANDS, "unassigned"),  # time bands, but not one record assigned
        (K_SEC, ALL_ON_T_SEC, SUNDAY_BANDS_OF_T_MIN, "rated"),  # time bands of a tariff no contract has
        ("999000111", NO_CONTRACTS, {}, "unassigned"),  # a catalog without contracts
    ],
    ids=["bands-nothing-assigned", "bands-of-an-unused-tariff", "no-contracts"],
)
def test_a_catalog_no_record_can_use_leaves_every_record_in_its_outcome(subscriber, core, tables, outcome):
    result = rate_priced(calls(subscriber, ("2026-10-25 01:30:00", 60)), priced(core=core, **tables))
    assert {k: v for k, v in result.counts().items() if v} == {outcome: 1}


# --- a record whose device ID row is missing ---------------------------------------------------

DEVICE_TABLES = """
CREATE TABLE dev_dim AS SELECT * FROM (VALUES (1, 10, 1), (3, 30, 2)) AS t(dev_no, contract_no, plan_no);
CREATE TABLE plan_dim AS SELECT * FROM (VALUES (1, 1), (2, 1)) AS t(plan_no, tariff_no);
CREATE TABLE tariff_dim AS SELECT * FROM (VALUES (1, 7)) AS t(tariff_no, catchall_zone_no);
CREATE TABLE local_keys (tariff_no INTEGER, key_no INTEGER);
CREATE TABLE band_grid (grid_key BIGINT, band_no INTEGER);
CREATE TABLE cust_card (cust_no INTEGER);
CREATE TABLE special_dim (contract_no INTEGER);
"""


@pytest.mark.parametrize(
    ("dev_no", "contract_no"),
    [
        ([1, 3], [10, 30]),
        ([1, 2, 3], [10, None, 30]),  # 2 lies between dev_dim's numbers
        ([1, 4, 3, 9], [10, None, 30, None]),  # 4 and 9 lie beyond dev_dim's largest (the lookup array grows to 9)
        ([None, 3, 0, -1], [None, 30, None, None]),  # unassigned, and numbers no device ID has
    ],
)
def test_a_record_whose_device_id_row_is_missing_has_no_contract_like_unassigned(dev_no, contract_no):
    """dev_dim has a row for every device ID of the index (sql/duck/dims.sql), so this can happen only
    if the two disagree; the record then gets no contract, as an unassigned one: pricing gives it
    no amount and it is no unrateable record (sql/duck/out/unrateable_rows.sql), so the run's
    conservation check (pipeline/job.py) fails loudly."""
    con = duckdb.connect()
    for statement in filter(str.strip, DEVICE_TABLES.split(";")):
        con.execute(statement)
    n = len(dev_no)
    assignment = pl.DataFrame(
        {"rid": list(range(n)), "dev_no": dev_no, "key_no": [1] * n, "cp_key": [None] * n, "zone_hit": [None] * n,
         "start_time": [at("2026-10-01 10:00:00")] * n, "duration_s": [60] * n, "volume_bytes": [None] * n},
        schema_overrides={"dev_no": pl.Int64, "cp_key": pl.Int64, "zone_hit": pl.Int32, "volume_bytes": pl.Int64},
    )
    assert records._with_devices(con, assignment).collect().get_column("contract_no").to_list() == contract_no


# --- billing period of an instant --------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "month_idx"),
    [
        ("2026-12-31 23:59:59.999999", 2026 * 12 + 11),
        ("2027-01-01 00:00:00", 2027 * 12 + 0),
        ("2028-02-29 12:00:00", 2028 * 12 + 1),
        ("2028-03-01 00:00:00", 2028 * 12 + 2),
        ("1969-12-31 23:59:59", 1969 * 12 + 11),  # before 1970: days are floored (DuckDB's // truncated)
    ],
)
def test_the_billing_period_is_the_utc_month_of_the_start(instant, month_idx):
    t_us = pl.Series([at(instant)]).dt.epoch("us")
    spread = pl.concat([t_us, t_us + 40 * records.US_PER_DAY])  # with a later day in the span
    assert pl.select(records._month(pl.lit(spread), spread.min(), spread.max())).item(0, 0) == month_idx


# --- the walk in parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("parts", [1, 2, 3, 16])
def test_the_walk_in_parts_prices_like_one_walk(monkeypatch, parts):
    """Contracts walk in parts (by contract number, two parts at once); a group is one contract's,
    so how many parts there are changes nothing."""
    from tests.price.test_rules import FREE_100, NO_BASE_PRICE, tiers

    cat = priced(core=NO_BASE_PRICE, **FREE_100, **tiers("graduated", fee="0.50"))
    days = [f"2026-10-{d:02d} 10:00:00" for d in range(1, 9)]
    batch = pl.concat([
        calls(subscriber, *[(d, seconds) for d in when], source_line=list(lines), record_key=[f"r{n}" for n in lines])
        for subscriber, when, seconds, lines in (
            (K_SEC, days, 50, range(1, 9)), (K_RC, days[::-1], 70, range(11, 19)), (K_EX, days, 30, range(21, 29))
        )
    ])  # fmt: skip
    monkeypatch.setattr(records, "WALK_PARTS", parts)
    got = rated(rate_priced(batch, cat), "source_line", "free_quantity", "tier", "amount").rows()
    # per contract: 100 s free in time order, then 60 s at 0.06/min (tier 1, its flat fee on the
    # record holding its first unit), then 0.03/min (tier 2); K-RC's calls came in reverse order
    assert got == EXPECTED_PARTS


EXPECTED_PARTS = [
    # K-SEC: 8 × 50 s
    (1, 50, None, D("0.000000")), (2, 50, None, D("0.000000")), (3, 0, 1, D("0.050000")), (4, 0, 1, D("0.050000")),
    (5, 0, 2, D("0.535000")), (6, 0, 2, D("0.025000")), (7, 0, 2, D("0.025000")), (8, 0, 2, D("0.025000")),
    # K-RC: 8 × 70 s, newest first (line 18 is the first call)
    (11, 0, 2, D("0.035000")), (12, 0, 2, D("0.035000")), (13, 0, 2, D("0.035000")), (14, 0, 2, D("0.035000")),
    (15, 0, 2, D("0.540000")), (16, 0, 1, D("0.070000")), (17, 30, 1, D("0.040000")), (18, 70, None, D("0.000000")),
    # K-EX: 8 × 30 s
    (21, 30, None, D("0.000000")), (22, 30, None, D("0.000000")), (23, 30, None, D("0.000000")), (24, 10, 1, D("0.020000")),
    (25, 0, 1, D("0.030000")), (26, 0, 1, D("0.030000")), (27, 0, 1, D("0.030000")), (28, 0, 2, D("0.520000")),
]  # fmt: skip


# --- groups whose order cannot matter (walk.settled) --------------------------------------------

#: ta 1: 100 units free, graduated tiers from 0 (no fee) and 50 (fee 5); ta 2: volume tiers from 0 and
#: 60 (fee 7); ta 3: graduated, its first tier with a fee of 4; ta 4: 100 units free, no tiers; ta 5:
#: graduated as ta 1, nothing free; ta 6: no rules (none of its records counts).
SETTLE_RULES = walk.rules(
    pl.DataFrame({
        "ta_no": [1, 2, 3, 4, 5, 6], "free_q": [100, 0, 0, 100, 0, 0],
        "tier_method": ["graduated", "volume", "graduated", None, "graduated", None],
    }),
    pl.DataFrame({
        "ta_no": [1, 1, 2, 2, 3, 3, 5, 5], "tier_no": [1, 2, 1, 2, 1, 2, 1, 2], "lo": [0, 50, 0, 60, 0, 100, 0, 50],
        "hi": [50, 2**44, 60, 2**44, 100, 2**44, 50, 2**44], "price_micro": [10, 8, 30, 25, 9, 7, 10, 8],
        "fee_micro": [0, 5, 0, 7, 4, 0, 0, 5], "cost_hi": [0] * 8, "cost_lo": [0] * 8, "fees_through": [0] * 8,
    }),
)  # fmt: skip
#: Tier indexes in the Rules' arrays (sorted by ta_no, lo).
TA1_T1, TA1_T2, TA2_T1, TA2_T2, TA3_T1, TA3_T2, TA5_T1, TA5_T2 = range(8)


@pytest.mark.parametrize(
    ("ta", "quantities", "carried", "code"),
    [
        (4, [40, 60], 0, walk.ALL_FREE),  # 100 units, 100 free
        (4, [40, 61], 0, walk.UNSETTLED),  # the free quantity ends inside: one record is split
        (4, [40, 60], 100, walk.UNTIERED),  # earlier runs used it up; no tiers
        (1, [30, 30], 0, walk.ALL_FREE),
        (1, [30, 80], 0, walk.UNSETTLED),
        (5, [20, 30], 0, TA5_T1),  # [0, 50): ends at the boundary, one tier
        (5, [20, 31], 0, walk.UNSETTLED),  # [0, 51): crosses it
        (5, [20], 60, TA5_T2),  # [60, 80): earlier runs charged 60
        (5, [20], 50, walk.UNSETTLED),  # [50, 70): starts at tier 2's first unit, which has a fee: its record pays it
        (2, [30, 30], 0, TA2_T1),  # volume: 60 units reach tier 1 (its last unit is the 60th)
        (2, [30, 40], 0, walk.UNSETTLED),  # 70 units reach tier 2, whose fee goes to the record holding unit 60
        (2, [10], 65, TA2_T2),  # [65, 75): tier 2's first unit was charged by an earlier run
        (3, [10, 10], 0, walk.UNSETTLED),  # graduated, the first tier's fee goes to the first record
        (3, [10], 100, TA3_T2),
        (6, [10, 10], 0, walk.UNTIERED),  # no rules
        (5, [0, 0], 0, walk.UNTIERED),  # no units
    ],
)  # fmt: skip
def test_a_group_is_settled_without_the_walk_only_where_its_order_cannot_matter(ta, quantities, carried, code):
    """Each case is one group (contract 3, month 5) beside an unsettled one of another contract."""
    n = len(quantities)
    contract = np.array([3] * n + [1, 1], dtype=np.int32)
    tas = np.array([ta] * n + [4, 4], dtype=np.int32)
    month = np.array([5] * n + [5, 5], dtype=np.int32)
    quantity = np.array([*quantities, 60, 60], dtype=np.int64)
    earlier = pl.DataFrame({"gk": [int(walk.group_key(np.array([3]), np.array([ta]), np.array([5]))[0])], "q_before": [carried]})
    got = walk.settled(contract, tas, month, np.arange(n + 2), quantity, SETTLE_RULES, earlier)
    assert got.tolist() == [code] * n + [walk.UNSETTLED] * 2


def test_volume_of_a_group_whose_units_end_on_a_boundary_is_the_tier_below_it():
    """60 units end at tier 2's first unit (60) without holding it: tier 1, where a lookup by the end itself says 2."""
    got = walk.settled(np.array([0, 0]), np.array([2, 2]), np.array([0, 0]), np.arange(2), np.array([30, 30]), SETTLE_RULES)
    assert got.tolist() == [TA2_T1, TA2_T1]


def test_groups_numbered_beyond_the_spread_are_all_left_to_the_walk(monkeypatch):
    monkeypatch.setattr(walk, "GROUP_SPREAD", 0)
    assert walk.settled(np.array([0]), np.array([4]), np.array([0]), np.arange(1), np.array([40]), SETTLE_RULES) is None


def test_a_graduated_first_tier_with_a_flat_fee_charges_it_to_the_first_call_though_no_call_leaves_the_tier():
    """All four minutes stay in tier 1: no boundary lies inside the group, yet its order decides which
    call holds the tier's first unit and pays its fee: the earliest (line 4; the calls come newest first)."""
    tables = {
        "volume_tiers": {
            "tariff_id": ["T-SEC", "T-SEC"], "article_id": ["A-NAT", "A-NAT"], "method": ["graduated", "graduated"],
            "from_quantity": ["0", "1000"], "price": ["0.0600", "0.0300"], "flat_fee": ["0.2500", None],
        }
    }  # fmt: skip
    from tests.price.test_rules import FOUR_MINUTES, NO_BASE_PRICE

    result = rate_priced(calls(K_SEC, *FOUR_MINUTES, source_line=[1, 2, 3, 4]), priced(core=NO_BASE_PRICE, **tables))
    assert rated(result, "source_line", "tier", "amount").rows() == [
        (1, 1, D("0.060000")), (2, 1, D("0.060000")), (3, 1, D("0.060000")), (4, 1, D("0.310000")),
    ]  # fmt: skip


@pytest.mark.parametrize("spread", [0, 4])
def test_settled_groups_price_as_the_walk_prices_them(monkeypatch, spread):
    """The case of the walk in parts (free units, graduated tiers with a fee), with and without settled
    groups; plus K-RC's calls a month later, which its free quantity covers whole."""
    from tests.price.test_rules import FREE_100, NO_BASE_PRICE, tiers

    cat = priced(core=NO_BASE_PRICE, **FREE_100, **tiers("graduated", fee="0.50"))
    days = [f"2026-10-{d:02d} 10:00:00" for d in range(1, 9)]
    november = ["2026-11-02 10:00:00", "2026-11-01 10:00:00"]
    batch = pl.concat([
        calls(subscriber, *[(d, seconds) for d in when], source_line=list(lines), record_key=[f"r{n}" for n in lines])
        for subscriber, when, seconds, lines in (
            (K_SEC, days, 50, range(1, 9)), (K_RC, days[::-1], 70, range(11, 19)), (K_EX, days, 30, range(21, 29)),
            (K_RC, november, 40, range(31, 33)),
        )
    ])  # fmt: skip
    monkeypatch.setattr(walk, "GROUP_SPREAD", spread)
    got = rated(rate_priced(batch, cat), "source_line", "free_quantity", "tier", "amount").rows()
    assert got == EXPECTED_PARTS + [(31, 40, None, D("0.000000")), (32, 40, None, D("0.000000"))]


# --- a run without free quantities or tiers (no walk) -------------------------------------------


def test_a_run_without_tiers_prices_every_record_with_no_tier_and_readable_nulls():
    """No record is walked, so tier_no and tier_before are NULL BIGINTs (one array over zeroed
    memory, records._all_null), which DuckDB and the rated-usage detail read as NULL."""
    result = rate_priced(calls("43316812724", ("2026-10-05 10:00:00", 61), ("2026-10-05 11:00:00", 5)), priced())
    table = result.priced
    for name in ("tier_no", "tier_before"):
        column = table.column(name)
        column.validate(full=True)
        assert (column.type, column.null_count, column.to_pylist()) == (pa.int64(), 2, [None, None])
    assert result.con.sql("SELECT count(tier_no), count(tier_before), count(*) FROM pricing").fetchall() == [(0, 0, 2)]
    assert rated(result, "tier", "tier_before", "amount").rows() == [(None, None, D("0.120000")), (None, None, D("0.060000"))]


def test_all_null_is_a_valid_array_of_nulls_of_any_length():
    for n in (0, 1, 7, 8, 9, 1000):
        column = records._all_null(n)
        column.validate(full=True)
        assert (len(column), column.null_count, column.type) == (n, n, pa.int64())
        assert column.to_pylist() == [None] * n


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, 10), (2, 30), (-1, None), (3, None), (None, None),
        (2**32 + 1, None),  # past the index type: null, never wrapped round to row 1
        (-(2**32) + 1, None),
    ],
)  # fmt: skip
def test_a_lookup_by_index_is_null_outside_the_array(index, expected):
    frame = pl.DataFrame({"i": [index]}, schema={"i": pl.Int64})
    assert frame.select(records._at(pl.Series([10, 20, 30]), pl.col("i"))).item() == expected


@pytest.mark.parametrize(
    ("values", "null", "expected"),
    [
        (np.array([5, 6, 7, 8, 9, 10, 11, 12, 13], dtype=np.int64), [0, 1, 0, 0, 0, 0, 0, 0, 1], [5, None, 7, 8, 9, 10, 11, 12, None]),
        (np.array([1, -2], dtype=np.int8), [0, 0], [1, -2]),
        (np.array([3], dtype=np.int32), [1], [None]),
        (np.zeros(0, dtype=np.int64), [], []),
    ],
)
def test_a_masked_column_is_null_where_the_mask_says_and_keeps_its_type(values, null, expected):
    """records._masked: the priced columns' validity bitmaps packed by NumPy, not pa.array's mask=."""
    array = records._masked(values, np.array(null, dtype=bool))
    assert array.to_pylist() == expected
    assert array.type == pa.from_numpy_dtype(values.dtype) and array.null_count == expected.count(None)


@pytest.mark.parametrize(("n", "dtype"), [(0, np.int64), (3, np.uint8), (600_000, np.int64)])
def test_zeros_from_a_mapping_of_their_own_read_as_zeros_and_take_writes(n, dtype):
    """records._zeros: the free units and tier fees before the walk writes some of them."""
    zeros = records._zeros(n, dtype)
    assert zeros.dtype == dtype and zeros.shape == (n,) and not zeros.any()
    if n:
        zeros[[0, n - 1]] = 7
        assert zeros.sum() == 14 and zeros[1 : n - 1].sum() == 0
