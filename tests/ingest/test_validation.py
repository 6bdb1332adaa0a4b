"""Validation finds the bad rows in one pass and lets pandera name their rules: the rejects are those
pandera gives for the whole batch, for every rule of schemas.usage.UsageRecord."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

import pipeline.ingest as ingest
from pipeline.ingest import validation_rejects
from tests.factory import at, usage

N = 20


def broken(**cells) -> pl.DataFrame:
    """N valid rows; each cell given is written into its row (row index -> value) of its column."""
    frame = usage(record_key=[f"r{i}" for i in range(N)])
    return frame.with_columns(
        pl.Series(name, [values.get(i, v) for i, v in enumerate(frame.get_column(name).to_list())], dtype=frame.schema[name])
        for name, values in cells.items()
    )


#: each of rows 0-17 breaks one rule, except row 11 (three); rows 18 and 19 keep every rule at its bounds
BATCH = broken(
    record_key={0: "", 11: None},
    source={1: None},
    source_file={2: None},
    source_line={3: 0, 11: -1},
    id_type={4: "fax", 5: None},
    subscriber_id={6: ""},
    start_time={7: at("1999-12-31 23:59:59"), 8: at("2100-01-01 00:00:00"), 9: None, 18: at("2000-01-01 00:00:00")},
    duration_s={10: -1, 12: 7 * 24 * 3600 + 1, 15: None, 18: 7 * 24 * 3600, 19: None},
    volume_bytes={13: -3, 14: 10**15 + 1, 19: 10**15},
    article_key={16: ""},
    billable={11: None, 17: None},
)


def test_every_rule_of_the_model_is_found_in_one_pass():
    assert ingest._keeps_every_rule() is not None


def test_the_rejects_are_pandera_s_for_the_whole_batch(monkeypatch):
    valid, rejects = validation_rejects(BATCH)
    monkeypatch.setattr(ingest, "_keeps_every_rule", lambda: None)
    whole_valid, whole_rejects = validation_rejects(BATCH)
    assert rejects.height == 18  # row 11 breaks three rules and is rejected once
    assert valid.to_list() == [False] * 18 + [True] * 2
    assert_series_equal(valid, whole_valid)
    assert_frame_equal(rejects, whole_rejects)


def test_a_batch_without_bad_rows_has_no_rejects():
    valid, rejects = validation_rejects(usage(duration_s=[0, 7 * 24 * 3600], volume_bytes=[None, 10**15]))
    assert valid.to_list() == [True, True]
    assert rejects.height == 0


def test_a_wrong_dtype_is_still_a_broken_contract():
    with pytest.raises(TypeError, match="canonical schema"):
        validation_rejects(BATCH.with_columns(pl.col("source_line").cast(pl.Int32)))
