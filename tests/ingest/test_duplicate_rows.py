"""duplicate_rows: a repeated key within the batch, or one an earlier run stored, is a duplicate; rows that
are no candidates (rejected) are never one and never hide a later row."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_series_equal

from pipeline.ingest import duplicate_rows

KEYS = pl.Series("record_key", ["a", "b", "a", "c", "d", "d", "e", "f", "b"])
CANDIDATES = pl.Series("valid", [True, True, True, True, False, True, True, True, True])


def test_within_the_batch_the_first_candidate_keeps_its_key():
    dup, first_seen_run = duplicate_rows(KEYS, CANDIDATES)
    assert dup.to_list() == [False, False, True, False, False, False, False, False, True]
    assert first_seen_run.null_count() == KEYS.len()


def test_a_key_an_earlier_run_stored_names_the_first_such_run():
    seen = pl.DataFrame({
        "record_key": ["c", "e", "c", "x", "d", "f"],
        "run_id": ["r1", "r2", "r3", "r4", "r5", None],  # the first run of c is r1; x is not in the batch
    })
    dup, first_seen_run = duplicate_rows(KEYS, CANDIDATES, seen)
    assert_series_equal(dup, pl.Series("dup", [False, False, True, True, False, True, True, True, True]))
    assert_series_equal(first_seen_run, pl.Series("first_seen_run", [None, None, None, "r1", None, "r5", "r2", None, None]))


def test_seen_keys_none_of_the_batch_has():
    dup, first_seen_run = duplicate_rows(KEYS, CANDIDATES, pl.DataFrame({"record_key": ["x", "y"], "run_id": ["r1", "r1"]}))
    assert dup.to_list() == [False, False, True, False, False, False, False, False, True]
    assert first_seen_run.dtype == pl.String and first_seen_run.null_count() == KEYS.len()
