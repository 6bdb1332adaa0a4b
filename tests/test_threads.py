"""Whole-column work on both cores (pipeline/threads.py) gives what one core gives."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import threads


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([3], [3]),
        ([5, -1, 5, 0, 2**62, -(2**62)], [-(2**62), -1, 0, 5, 5, 2**62]),
    ],
)
def test_sorting_on_both_cores_sorts_in_place(monkeypatch, values, expected):
    monkeypatch.setattr(threads, "PIECE_ROWS", 1)  # split even these few values in halves
    array = np.array(values, dtype=np.int64)
    threads.sort_on_both_cores(array)
    assert array.tolist() == expected


@pytest.mark.parametrize("n", [2 * threads.PIECE_ROWS - 1, 2 * threads.PIECE_ROWS, 3 * threads.PIECE_ROWS + 7])
def test_sorting_millions_on_both_cores_equals_one_sort(n):
    values = np.random.default_rng(n).integers(-(2**62), 2**62, n)
    expected = np.sort(values)
    threads.sort_on_both_cores(values)
    assert np.array_equal(values, expected)
