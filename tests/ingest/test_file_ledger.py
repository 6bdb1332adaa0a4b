"""The file ledger: a file is processed once, known by its content; a reused name is processed, with a warning."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.io.file_ledger import LEDGER_FILE, FileLedger
from pipeline.io.inbox import content_hash


def write(folder, name: str, content: str):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def test_the_same_file_twice_is_a_no_op_with_the_reason(tmp_path):
    ledger = FileLedger(tmp_path / "warehouse")
    first = write(tmp_path / "inbox", "Master.csv", "call 1\n")
    new, already, renamed = ledger.classify([first])
    assert [f.path for f in new] == [first] and already == [] and renamed == []
    assert ledger.record("run-1", new) == 1
    new, already, renamed = ledger.classify([first])
    assert new == [] and renamed == []
    assert [path for path, _ in already] == [first]
    assert already[0][1].startswith(f"already processed: the same content (sha256 {content_hash(first)[:12]}…) was processed in run run-1 on ")


def test_the_same_content_under_another_name_is_the_same_file(tmp_path):
    ledger = FileLedger(tmp_path / "warehouse")
    ledger.record("run-1", ledger.classify([write(tmp_path / "inbox", "Master.csv", "call 1\n")]).new)
    copy = write(tmp_path / "again", "Master-copy.csv", "call 1\n")
    new, already, _ = ledger.classify([copy])
    assert new == [] and "was processed as Master.csv in run run-1" in already[0][1]


def test_a_different_file_with_a_known_name_is_processed_with_a_warning(tmp_path):
    ledger = FileLedger(tmp_path / "warehouse")
    ledger.record("run-1", ledger.classify([write(tmp_path / "day1", "Master.csv", "call 1\n")]).new)
    second = write(tmp_path / "day2", "Master.csv", "call 2\n")
    new, already, renamed = ledger.classify([second])
    assert [f.path for f in new] == [second] and already == []
    assert [path for path, _ in renamed] == [second]
    assert "a different file named Master.csv was processed in run run-1" in renamed[0][1]
    assert "this one has other content" in renamed[0][1]


def test_two_identical_files_in_one_hand_in_are_processed_once(tmp_path):
    ledger = FileLedger(tmp_path / "warehouse")
    a, b = write(tmp_path, "a.csv", "same\n"), write(tmp_path, "b.csv", "same\n")
    new, already, _ = ledger.classify([a, b])
    assert [f.path for f in new] == [a]
    assert already == [(b, f"same content (sha256 {content_hash(a)[:12]}…) as a.csv in this hand-in: processed once, as a.csv")]


def test_recording_is_idempotent_and_stored_as_parquet_in_the_warehouse(tmp_path):
    ledger = FileLedger(tmp_path / "warehouse")
    files = ledger.classify([write(tmp_path, "a.csv", "1\n"), write(tmp_path, "b.csv", "2\n")]).new
    assert ledger.record("run-1", files) == 2
    assert ledger.record("run-2", files) == 0
    stored = pl.read_parquet(tmp_path / "warehouse" / LEDGER_FILE)
    assert stored.select("file_name", "size_bytes", "run_id").rows() == [("a.csv", 2, "run-1"), ("b.csv", 2, "run-1")]
    assert sorted(p.name for p in (tmp_path / "warehouse").iterdir()) == [f".{LEDGER_FILE}.lock", LEDGER_FILE]


@pytest.mark.parametrize("given", ["tuple", "triple"])
def test_record_takes_paths_with_hashes(tmp_path, given):
    path = write(tmp_path, "a.csv", "1\n")
    entry = (path, content_hash(path)) if given == "tuple" else (path, content_hash(path), 2)
    ledger = FileLedger(tmp_path / "warehouse")
    ledger.record("run-1", [entry])
    assert ledger.classify([path]).new == []
