"""pipeline/engine.py: frames registered on a run's DuckDB connection."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from pipeline import engine

SCHEMA = {"rid": pl.Int64, "id": pl.String, "at": pl.Datetime("us", "UTC")}


def chunked(*parts: dict) -> pl.DataFrame:
    """One frame of `parts`, each a chunk of its own (as a parallel filter leaves them), and a
    column `code` computed whole (one chunk)."""
    frame = pl.concat([pl.DataFrame(p, schema=SCHEMA) for p in parts], rechunk=False)
    return frame.with_columns(pl.Series("code", [10 * (i + 1) for i in range(frame.height)], dtype=pl.Int32))


@pytest.mark.parametrize(
    ("frame", "rows"),
    [
        (chunked({"rid": [1, 2], "id": ["a", None], "at": [None, None]}), [(1, "a", None, 10), (2, None, None, 20)]),
        (
            chunked({"rid": [1], "id": ["a"], "at": [None]}, {"rid": [2, 3], "id": ["b", "c"], "at": [None, None]}),
            [(1, "a", None, 10), (2, "b", None, 20), (3, "c", None, 30)],
        ),
        (chunked({"rid": [], "id": [], "at": []}), []),
    ],
)
def test_a_frame_with_columns_chunked_differently_reads_the_same_rows(frame, rows):
    con = engine.connect(threads=1)
    engine.register(con, "t", frame)
    assert con.sql("SELECT * FROM t ORDER BY rid").fetchall() == rows
    assert con.sql("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall() == [
        ("rid", "BIGINT"), ("id", "VARCHAR"), ("at", "TIMESTAMP WITH TIME ZONE"), ("code", "INTEGER"),
    ]  # fmt: skip


def test_the_registered_table_keeps_each_columns_chunks_without_a_copy():
    """DataFrame.to_arrow would align the chunks, copying every column; arrow_table hands Arrow
    the frame's own buffers."""
    frame = chunked({"rid": [1], "id": ["a"], "at": [datetime(2026, 10, 1, tzinfo=UTC)]}, {"rid": [2], "id": ["b"], "at": [None]})
    table = engine.arrow_table(frame)
    assert [table.column(c).num_chunks for c in frame.columns] == [frame.get_column(c).n_chunks() for c in frame.columns] == [2, 2, 2, 1]
    for c in ("rid", "at", "code"):
        own = [chunk.to_arrow().buffers()[1].address for chunk in frame.get_column(c).get_chunks()]
        assert [chunk.buffers()[1].address for chunk in table.column(c).chunks] == own
