"""Recording a hand-in's files (flows.rate_usage.record_files): the ledger's and the skipped files' rows, and
the analyst views over them rebuilt when they would read the wrong files, not on every run (docs/warehouse.md)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pytest

from flows import rate_usage
from flows.rate_usage import HandIn, record_files
from pipeline.io import views, warehouse
from pipeline.io.file_ledger import LedgerFile, entries

PROCESSED = LedgerFile(Path("/inbox/a.csv"), "a" * 64, 10)
DIRECTORY = LedgerFile(Path("/inbox/sub"), None, None)


def hand_in(new: list, skipped: list, handin_id: str = "h1") -> HandIn:
    return HandIn(new=new, skipped=skipped, warnings=[], handin_id=handin_id, files=len(new) + len(skipped))


def counts(root: Path) -> tuple:
    """(file_ledger rows, skipped_files rows) as the analyst database's views read them."""
    con = duckdb.connect(str(root / warehouse.ANALYTICS_DB), read_only=True)
    try:
        return tuple(con.sql(f"SELECT count(*) FROM {view}").fetchall()[0][0] for view in ("file_ledger", "skipped_files"))
    finally:
        con.close()


@pytest.mark.parametrize(
    ("checks", "moved", "expected"),
    [
        # a run, then a no-op check whose inbox holds a directory: the first skipped file makes the views anew
        ([("r1", [PROCESSED], []), (None, [], [(DIRECTORY, "a directory")])], False, (1, 1)),
        # the inbox emptied: the same (empty) hand-in checked again has no skipped file left; its view reads none
        ([(None, [], [(DIRECTORY, "a directory")]), (None, [], [])], False, (0, 0)),
        # the warehouse moved: a no-op check's views read its files at the new place
        ([("r1", [PROCESSED], [(DIRECTORY, "a directory")])], True, (1, 2)),
    ],
    ids=["first-skipped-file", "last-skipped-file-gone", "warehouse-moved"],
)
def test_views_read_the_recorded_files(tmp_path, monkeypatch, checks, moved, expected):
    monkeypatch.setattr(rate_usage, "get_run_logger", lambda: logging.getLogger("test"))
    root = tmp_path / "warehouse"
    views.publish(root)
    for run_id, new, skipped in checks:
        rows = None if run_id is None else entries(run_id, new)  # what the run's commit holds
        record_files.fn(root, run_id, hand_in(new, skipped, handin_id="h0" if run_id is None else "h1"), rows)
    if moved:
        root = Path(shutil.move(root, tmp_path / "moved"))
        shutil.rmtree(tmp_path / "moved" / "_schema")  # nothing of the old place left to read by chance
        record_files.fn(root, None, hand_in([], [(DIRECTORY, "a directory")], handin_id="h0"))
    assert counts(root) == expected
