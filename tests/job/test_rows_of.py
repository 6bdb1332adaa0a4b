"""pipeline.job._rows_of: rows of a frame of many chunks, gathered a chunk at a time, as one gather gives them."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.job import _rows_of


def _chunked(*pieces: list[int]) -> pl.DataFrame:
    """A frame with one chunk per piece (as a batch read file by file), a text column beside the numbers."""
    frames = [pl.DataFrame({"n": piece, "text": [f"r{v}" for v in piece]}) for piece in pieces]
    return pl.concat(frames, rechunk=False)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], []),
        ([0], [10]),
        ([0, 1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15]),
        ([1, 3, 5], [11, 13, 15]),  # one row of each chunk
        ([3, 4], [13, 14]),  # the last chunk only
        ([2, 3], [12, 13]),  # across a chunk boundary
    ],
)
def test_rows_of_a_chunked_frame_are_the_rows_one_gather_gives(rows, expected):
    frame = _chunked([10, 11, 12], [13, 14], [15])
    assert frame.get_column("n").chunk_lengths() == [3, 2, 1]
    got = _rows_of(frame, pl.Series(rows, dtype=pl.Int64))
    assert got.get_column("n").to_list() == expected
    assert got.get_column("text").to_list() == [f"r{v}" for v in expected]
    assert got.equals(frame.gather(pl.Series(rows, dtype=pl.Int64)))
