"""Across runs: a file handed in again is skipped by the file ledger; its records re-delivered in another
file are duplicates of the earlier run (pipeline.ingest with warehouse.seen_record_keys), never rated twice."""

from __future__ import annotations

import polars as pl

from pipeline.io import warehouse
from pipeline.io.file_ledger import FileLedger
from pipeline.job import rate
from tests.factory import catalog, usage


def rated_run(root, run_id: str, records) -> dict[str, int]:
    result = rate(records, catalog(), run_id, seen=warehouse.seen_record_keys(root, except_run=run_id))
    warehouse.write_run(result.stored_tables(), root, run_id)
    return result.counts()


def test_a_file_and_its_records_are_processed_once_across_runs(tmp_path):
    root = tmp_path / "warehouse"
    ledger = FileLedger(root)
    day1 = tmp_path / "Master-1.csv"
    day1.write_text("r1,r2\n")
    new, _, _ = ledger.classify([day1])
    records = usage(record_key=["r1", "r2"], subscriber_id=["43316812724", "4999"])
    assert rated_run(root, "run1", records) == {
        "rated": 1, "non_billable": 0, "rejected": 0, "unassigned": 1, "unrateable": 0, "duplicate": 0,
    }
    ledger.record("run1", new)

    # the same file again: nothing to read
    assert ledger.classify([day1]).new == []

    # a new file carrying the same two records and a new one: only the new one is rated
    day2 = tmp_path / "Master-2.csv"
    day2.write_text("r1,r2,r3\n")
    assert len(ledger.classify([day2]).new) == 1
    again = usage(record_key=["r1", "r2", "r3"], subscriber_id=["43316812724", "4999", "43316812724"])
    assert rated_run(root, "run2", again) == {
        "rated": 1, "non_billable": 0, "rejected": 0, "unassigned": 0, "unrateable": 0, "duplicate": 2,
    }
    dupes = pl.read_parquet(root / "duplicates" / "run-run2.parquet")
    assert dupes.select("record_key", "first_seen_run").sort("record_key").rows() == [("r1", "run1"), ("r2", "run1")]
