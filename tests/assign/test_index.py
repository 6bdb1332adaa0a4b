"""The interval machinery: nested intervals flattened into ranked segments, keys found by a binary search each or a sorted merge."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipeline import engine
from pipeline.assign import build_segments, index, interval_lookup, item_lookup, segment_items


def test_nested_intervals_flatten_into_disjoint_segments_most_specific_first():
    con = engine.connect()
    intervals = pl.DataFrame({"lo": [10, 20, 25, 40], "hi": [49, 29, 25, 45], "width": [39, 9, 0, 5], "item": [1, 2, 3, 4]})
    assert build_segments(con, "items", intervals) == 7
    rows = con.sql("SELECT seg_lo, seg_hi, item, rank FROM items ORDER BY seg_lo, rank").fetchall()
    assert rows == [
        (10, 19, 1, 1),
        (20, 24, 2, 1), (20, 24, 1, 2),
        (25, 25, 3, 1), (25, 25, 2, 2), (25, 25, 1, 3),
        (26, 29, 2, 1), (26, 29, 1, 2),
        (30, 39, 1, 1),
        (40, 45, 4, 1), (40, 45, 1, 2),
        (46, 49, 1, 1),
    ]


@pytest.fixture(params=["searched", "bucketed", "stepped", "sorted"])
def lookup_path(request, monkeypatch):
    """interval_lookup's ways for Int64 keys: a search per key (few segments: binary, or by bucket
    for many keys; "stepped": in four buckets, so that keys step up to their start or, past
    BUCKET_STEPS starts, fall back to the binary search), or the keys sorted (many segments)."""
    if request.param == "sorted":
        monkeypatch.setattr(index, "SEARCH_SEGMENTS", 0)
    elif request.param == "searched":
        monkeypatch.setattr(index, "BUCKETED_KEYS", 2**62)
    else:
        monkeypatch.setattr(index, "BUCKETED_KEYS", 0)
        if request.param == "stepped":
            monkeypatch.setattr(index, "BUCKET_BITS", 2)
            monkeypatch.setattr(index, "BUCKET_STEPS", 1)
    return request.param


@pytest.mark.parametrize(
    ("key", "position"),
    [(None, 0), (2, 0), (3, 1), (5, 1), (6, 0), (7, 2), (8, 2), (9, 0), (10, 3), (11, 3), (12, 0)],
)
def test_interval_lookup_finds_the_segment_of_each_key_or_none(key, position, lookup_path):
    keys = pl.Series([key, 7, None, 3], dtype=pl.Int64)  # the key among others, in any order
    found = interval_lookup(keys, pl.Series([3, 7, 10]), pl.Series([5, 8, 11]))
    assert found.to_list() == [position, 2, 0, 1]


def test_interval_lookup_works_on_int128_keys():
    big = 2**100
    keys = pl.Series([big + 5, -big, big], dtype=pl.Int128)
    found = interval_lookup(keys, pl.Series([big, -big - 1], dtype=pl.Int128).sort(), pl.Series([-big + 1, big + 9], dtype=pl.Int128).sort())
    assert found.to_list() == [2, 1, 2]


def test_item_lookup_returns_the_item_row_aligned(lookup_path):
    con = engine.connect()
    build_segments(con, "items", pl.DataFrame({"lo": [10, 20], "hi": [49, 29], "width": [39, 9], "item": [1, 2]}))
    con.execute("CREATE VIEW best AS SELECT seg_lo, seg_hi, item FROM items WHERE rank = 1")
    assert item_lookup(pl.Series([25, 5, 49, 50, 10], dtype=pl.Int64), segment_items(con, "best")).to_list() == [2, None, 1, None, 1]


@pytest.mark.parametrize(
    ("keys", "positions"),
    [
        # the keys span all of Int64, so the packed sort drops their lowest 3 bits: 0..3 share a
        # bucket and come out in row order, on both sides of the boundary between 1 and 2
        ([3, 0, 2, 1, -(2**63), 2**63 - 1], [2, 1, 2, 1, 0, 3]),
        ([None, 3, None, 0, 2**63 - 1, -(2**63)], [0, 2, 0, 1, 3, 0]),
        ([2**62 - 1, 2**62, 4, 4, -1], [0, 3, 0, 0, 0]),
    ],
)
def test_interval_lookup_of_int64_keys_is_exact_whatever_their_span(keys, positions, lookup_path):
    found = interval_lookup(pl.Series(keys, dtype=pl.Int64), pl.Series([0, 2, 2**62]), pl.Series([1, 3, 2**63 - 1]))
    assert found.to_list() == positions


def test_the_lowest_int64_key_finds_a_segment_that_starts_there(lookup_path):
    lowest, highest = -(2**63), 2**63 - 1
    keys = pl.Series([lowest, lowest + 1, None, -5, 0, 60, 100, highest], dtype=pl.Int64)
    found = interval_lookup(keys, pl.Series([lowest, 0, 100]), pl.Series([-1, 50, highest]))
    assert found.to_list() == [1, 1, 0, 1, 2, 0, 3, 3]


@pytest.mark.parametrize(
    ("bits", "steps", "values", "started"),
    [
        # starts 0, 10, 11, 12, 40 span 40: 41 buckets of one value each, every bucket exact
        (6, 4, [-5, 0, 9, 10, 11, 12, 13, 39, 40, 41, 2**63 - 1, -(2**63)], [0, 1, 1, 2, 3, 4, 4, 4, 5, 5, 5, 0]),
        # three buckets of 16 values (0-15, 16-31, 32-40): the first holds starts 10, 11 and 12 above
        # its lowest value, so its values step up from 1 to 4; allowed one step, they are binary-searched
        (2, 4, [-5, 0, 9, 10, 11, 12, 13, 39, 40, 41, 2**63 - 1, -(2**63)], [0, 1, 1, 2, 3, 4, 4, 4, 5, 5, 5, 0]),
        (2, 1, [-5, 0, 9, 10, 11, 12, 13, 39, 40, 41, 2**63 - 1, -(2**63)], [0, 1, 1, 2, 3, 4, 4, 4, 5, 5, 5, 0]),
    ],
)
def test_buckets_count_the_starts_at_or_below_each_value(bits, steps, values, started, monkeypatch):
    monkeypatch.setattr(index, "BUCKET_BITS", bits)
    monkeypatch.setattr(index, "BUCKET_STEPS", steps)
    buckets = index._Buckets.of(np.array([0, 10, 11, 12, 40], dtype=np.int64))
    assert buckets.started(np.array(values, dtype=np.int64)).tolist() == started


@pytest.mark.parametrize(("bits", "steps"), [(20, 4), (4, 2), (1, 1)])
def test_buckets_agree_with_a_binary_search_on_any_int64_starts(bits, steps, monkeypatch):
    """Seeded random starts of every scale, with the Int64 ends; values around each start and at random."""
    monkeypatch.setattr(index, "BUCKET_BITS", bits)
    monkeypatch.setattr(index, "BUCKET_STEPS", steps)
    rng = np.random.default_rng(7)
    lowest, highest = -(2**63), 2**63 - 1
    for scale in (10, 10**4, 2**40, 2**62):
        for ends in ([], [lowest], [highest], [lowest, highest]):
            starts = np.unique(np.concatenate([rng.integers(-scale, scale, 30, dtype=np.int64), np.array(ends, dtype=np.int64)]))
            values = np.concatenate([
                rng.integers(lowest, highest, 500, dtype=np.int64, endpoint=True), rng.integers(-2 * scale, 2 * scale, 500, dtype=np.int64),
                starts, starts[starts > lowest] - 1, starts[starts < highest] + 1, np.array([lowest, highest], dtype=np.int64),
            ])  # fmt: skip
            expected = np.searchsorted(starts, values, side="right")
            assert (index._Buckets.of(starts).started(values) == expected).all(), (scale, ends)
