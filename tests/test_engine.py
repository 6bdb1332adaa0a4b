"""The DuckDB engine (pipeline/engine.py): Polars frames handed to DuckDB as they are."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pyarrow as pa

from pipeline import engine


def test_a_frame_handed_to_duckdb_keeps_its_strings_as_views_and_reads_back_the_same():
    frame = pl.DataFrame(
        {"contract_id": ["K-MIN", None, "a string longer than twelve bytes"], "net_amount": [Decimal("0.12"), Decimal("-1.05"), None]},
        schema_overrides={"net_amount": pl.Decimal(18, 2)},
    )
    table = engine.arrow(frame)
    assert table.schema.field("contract_id").type == pa.string_view()  # no copy to large strings
    con = engine.connect()
    con.register("lines", table)
    assert con.sql("SELECT contract_id, net_amount FROM lines").fetchall() == [
        ("K-MIN", Decimal("0.12")),
        (None, Decimal("-1.05")),
        ("a string longer than twelve bytes", None),
    ]
