"""The file ledger: a file is processed once, known by its content; a reused name is processed, with a warning."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from pipeline.io.file_ledger import LEDGER_FILE, FileLedger, FileLedgerError, fold_committed
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


def test_an_unreadable_ledger_is_named_with_what_to_do(tmp_path):
    """A damaged file_ledger.parquet failed a run with a bare Polars error naming no file (flow audit)."""
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / LEDGER_FILE).write_text("garbage\n")
    with pytest.raises(FileLedgerError, match=f"the file ledger {tmp_path / 'warehouse' / LEDGER_FILE} cannot be read"):
        FileLedger(tmp_path / "warehouse").entries()


def test_a_quarantined_file_is_not_read_again_and_says_why(tmp_path):
    ledger = FileLedger(tmp_path / "warehouse")
    broken = write(tmp_path / "inbox", "Master.csv.gz", "not gzip\n")
    assert ledger.record("run-1", ledger.classify([broken]).new, {content_hash(broken): "named .gz but not gzip-compressed"}) == 1
    new, already, _ = ledger.classify([broken])
    assert new == []
    assert already[0][1].startswith(f"already quarantined: the same content (sha256 {content_hash(broken)[:12]}…) could not be read in run run-1 on ")
    assert already[0][1].endswith("(named .gz but not gzip-compressed); hand in a corrected file, or fix the source configuration and run with --reprocess")


@pytest.mark.parametrize(
    ("first_name", "later_name", "read_again"),
    [
        ("upload-0001.tmp", "partner-1.csv", True),  # quarantined for its name alone: read under a name a source reads
        ("upload-0001.tmp", "upload-0002.tmp", False),  # still a name no source reads
        ("partner-0.csv", "partner-1.csv", False),  # its content failed: the same bytes fail again
    ],
)
def test_a_file_quarantined_for_its_name_alone_is_read_under_a_name_a_source_reads(tmp_path, first_name, later_name, read_again):
    ledger = FileLedger(tmp_path / "warehouse")
    first = write(tmp_path / "inbox", first_name, "a;b\n")
    ledger.record("run-1", ledger.classify([first]).new, {content_hash(first): "some reason"})
    later = write(tmp_path / "later", later_name, "a;b\n")
    new, already, warnings = ledger.classify([later], readable_name=lambda name: name.endswith(".csv"))
    assert (len(new), len(already)) == ((1, 0) if read_again else (0, 1))
    assert [w for _, w in warnings] == ([f"quarantined before as {first_name}, a name no source reads: read now under this name"]
                                        if read_again else [])  # fmt: skip


@pytest.mark.parametrize(
    ("earlier", "later", "stored"),
    [
        # (status recorded by run-1, status recorded by run-2) → the entry kept
        ("processed", "processed", ("run-1", "processed", None)),
        ("processed", "quarantined", ("run-1", "processed", None)),  # its records are stored: it stays processed
        ("quarantined", "processed", ("run-2", "processed", None)),  # read after a fix
        ("quarantined", "quarantined", ("run-1", "quarantined", "unreadable")),
        # quarantined again for another reason (--reprocess after a change of sources.toml): the latest says why
        ("quarantined", "quarantined:other", ("run-2", "quarantined", "no source matches")),
    ],
)
def test_a_quarantine_entry_gives_way_to_a_later_processing(tmp_path, earlier, later, stored):
    ledger = FileLedger(tmp_path / "warehouse")
    path = write(tmp_path, "a.csv", "1\n")
    reason = {content_hash(path): "unreadable"}
    later_reason = {content_hash(path): "no source matches"} if later == "quarantined:other" else reason
    ledger.record("run-1", [(path, content_hash(path))], reason if earlier == "quarantined" else None)
    added = ledger.record("run-2", [(path, content_hash(path))], later_reason if later.startswith("quarantined") else None)
    assert ledger.entries().select("run_id", "status", "reason").rows() == [stored]
    assert added == (1 if stored[0] == "run-2" else 0)


@pytest.mark.parametrize("status", ["processed", "quarantined"])
def test_reprocess_hands_known_files_back_with_a_warning(tmp_path, status):
    ledger = FileLedger(tmp_path / "warehouse")
    a, copy = write(tmp_path, "a.csv", "1\n"), write(tmp_path, "copy-of-a.csv", "1\n")
    ledger.record("run-1", [(a, content_hash(a))], {content_hash(a): "why"} if status == "quarantined" else None)
    new, already, warnings = ledger.classify([a, copy], reprocess=True)
    assert [f.path for f in new] == [a]
    assert [path for path, _ in already] == [copy]  # identical files of one hand-in: still read once
    assert warnings == [(a, f"reprocessed on request: the same content (sha256 {content_hash(a)[:12]}…) was {status} in run run-1 on "
                         f"{ledger.entries()['recorded_at'][0]:%Y-%m-%d %H:%M:%S} UTC")]


def test_a_ledger_written_before_files_had_a_status_reads_as_processed(tmp_path):
    (tmp_path / "warehouse").mkdir()
    path = write(tmp_path, "a.csv", "1\n")
    old = pl.DataFrame(
        {"content_hash": [content_hash(path)], "file_name": ["a.csv"], "size_bytes": [2], "run_id": ["run-0"]}
    ).with_columns(pl.lit("2026-10-01").str.to_datetime(time_zone="UTC").alias("recorded_at"))
    old.write_parquet(tmp_path / "warehouse" / LEDGER_FILE)
    ledger = FileLedger(tmp_path / "warehouse")
    assert ledger.entries().select("run_id", "status", "reason").rows() == [("run-0", "processed", None)]
    assert "was processed in run run-0 on 2026-10-01 00:00:00 UTC" in ledger.classify([path]).already_processed[0][1]


def test_skipped_files_are_stored_per_hand_in_and_queryable_with_the_ledger(tmp_path):
    import duckdb

    from pipeline.io import file_ledger, views, warehouse

    root = tmp_path / "warehouse"
    ledger = FileLedger(root)
    a, b = write(tmp_path, "a.csv", "1\n"), write(tmp_path, "b.csv", "2\n")
    ledger.record("run-1", ledger.classify([a]).new)
    for _ in range(3):  # the same hand-in checked three times: once rating run-2, then twice with all known
        new, already, _ = ledger.classify([a, b])
        run_id = "run-2" if new else None
        skipped = [(file_ledger.describe(path), reason) for path, reason in already]
        file_ledger.write_skipped(root, "handin-1", file_ledger.skipped_table("handin-1", run_id, skipped), run_id=run_id)
        ledger.record("run-2", new)
    views.publish(root)
    con = duckdb.connect(str(root / warehouse.ANALYTICS_DB), read_only=True)
    try:
        assert con.sql("SELECT file_name, run_id, status FROM file_ledger ORDER BY 1").fetchall() == [
            ("a.csv", "run-1", "processed"),
            ("b.csv", "run-2", "processed"),
        ]
        rows = con.sql("SELECT handin_id, run_id, source_file, size_bytes, left(reason, 43) FROM skipped_files ORDER BY 3").fetchall()
    finally:
        con.close()
    assert sorted(rows, key=lambda r: (r[2], r[1] or "")) == [
        # the check that rated run-2 keeps its row; the no-op checks after it replace only each other's
        ("handin-1", None, "a.csv", 2, "already processed: the same content (sha256"),
        ("handin-1", "run-2", "a.csv", 2, "already processed: the same content (sha256"),
        ("handin-1", None, "b.csv", 2, "already processed: the same content (sha256"),
    ]


def test_the_views_exist_before_anything_was_recorded(tmp_path):
    import duckdb

    from pipeline.io import views, warehouse

    views.publish(tmp_path)
    con = duckdb.connect(str(tmp_path / warehouse.ANALYTICS_DB), read_only=True)
    try:
        counts = [con.sql(f"SELECT count(*) FROM {view}").fetchall()[0][0] for view in ("file_ledger", "skipped_files")]
    finally:
        con.close()
    assert counts == [0, 0]


def test_the_ledger_file_has_the_umasks_permissions_like_every_warehouse_file(tmp_path):
    """Analysts running as another user read the file_ledger view (mkstemp alone made it 0600)."""
    old = os.umask(0o022)
    try:
        ledger = FileLedger(tmp_path / "warehouse")
        path = write(tmp_path, "a.csv", "1\n")
        ledger.record("run-1", [(path, content_hash(path))])
        assert ledger.path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("recorded", "committed", "expected"),
    [
        # killed after its commit, before recording: its rows come from the commit
        ([], ("r1", ["a.csv", "b.csv"], {"b.csv": "empty file"}), [("a.csv", "r1", "processed"), ("b.csv", "r1", "quarantined")]),
        # killed after recording, before removing its committed rows: recording them again changes nothing
        (
            [("r1", ["a.csv", "b.csv"], {"b.csv": "empty file"})],
            ("r1", ["a.csv", "b.csv"], {"b.csv": "empty file"}),
            [("a.csv", "r1", "processed"), ("b.csv", "r1", "quarantined")],
        ),
        # reprocessed after a fix: the quarantine entry gives way, the processed entry stays the first run's
        (
            [("r0", ["a.csv", "b.csv"], {"b.csv": "empty file"})],
            ("r1", ["a.csv", "b.csv"], {}),
            [("a.csv", "r0", "processed"), ("b.csv", "r1", "processed")],
        ),
    ],
    ids=["killed-before-recording", "killed-after-recording", "reprocessed"],
)
def test_the_ledger_rows_a_committed_run_carried_are_folded_in_once(tmp_path, recorded, committed, expected):
    from pipeline.io import file_ledger

    warehouse = tmp_path / "warehouse"
    files = {name: write(tmp_path / "inbox", name, f"{name}\n") for name in ("a.csv", "b.csv")}

    def rows(run_id, names, quarantined):
        hashes = {content_hash(files[n]): reason for n, reason in quarantined.items()}
        return file_ledger.entries(run_id, [file_ledger.describe(files[n]) for n in names], hashes)

    for run_id, names, quarantined in recorded:
        FileLedger(warehouse).add(rows(run_id, names, quarantined))
    pending = warehouse / file_ledger.COMMITTED / f"run-{committed[0]}.parquet"
    pending.parent.mkdir(parents=True)
    rows(*committed).write_parquet(pending)
    assert file_ledger.fold_committed(warehouse) == [committed[0]]
    assert FileLedger(warehouse).entries().select("file_name", "run_id", "status").sort("file_name").rows() == expected
    assert not pending.exists()
    assert file_ledger.fold_committed(warehouse) == []  # nothing left to fold


@pytest.mark.parametrize("content", [b"", b"PAR1 cut short by a power cut"], ids=["empty", "cut-short"])
def test_committed_ledger_rows_that_cannot_be_read_say_what_to_do(tmp_path, content):
    """Every later run failed on a polars 'File out of specification' naming nothing (review)."""
    from pipeline.io import file_ledger

    pending = tmp_path / "warehouse" / file_ledger.COMMITTED / "run-r7.parquet"
    pending.parent.mkdir(parents=True)
    pending.write_bytes(content)
    with pytest.raises(file_ledger.FileLedgerError) as raised:
        file_ledger.fold_committed(tmp_path / "warehouse")
    message = str(raised.value)
    assert message.startswith(f"the file-ledger rows committed with run r7, {pending}, cannot be read (")
    assert message.endswith("or move it away (that run's files are then read again by the next run: their records already "
                            "stored counted as duplicates, their bad lines rejected again)")
    assert pending.exists()  # nothing removed behind the operator's back


@pytest.mark.parametrize(
    ("name", "read", "message"),
    [
        ("file_ledger.parquet", lambda wh: FileLedger(wh).entries(),
         "the file ledger {f} cannot be read (PermissionError: Permission denied (os error 13): {f}): permission denied: let the "
         "user running rating read it (`ls -l` shows its owner and mode), then run the command again"),
        ("_file_ledger_pending/run-r7.parquet", lambda wh: fold_committed(wh),
         "the file-ledger rows committed with run r7, {f}, cannot be read (PermissionError: Permission denied (os error 13): {f}): "
         "permission denied: let the user running rating read it (`ls -l` shows its owner and mode), then run the command again"),
    ],
    ids=["ledger", "pending"],
)
def test_a_ledger_file_the_user_may_not_open_says_permission_denied(tmp_path, monkeypatch, name, read, message):
    """A ledger file of another owner or mode 000: Polars' error as it says it (as the user nobody; monkeypatched, as root
    reads any file). The message said to restore it from a backup, or move it away and read the inbox again."""
    path = tmp_path / "warehouse" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")

    def refused(source, *args, **kwargs):
        raise PermissionError(f"Permission denied (os error 13): {source}")

    monkeypatch.setattr(pl, "read_parquet", refused)
    with pytest.raises(FileLedgerError) as raised:
        read(tmp_path / "warehouse")
    assert str(raised.value) == message.format(f=path)


@pytest.mark.parametrize(
    ("name", "read", "what"),
    [
        ("file_ledger.parquet", lambda wh: FileLedger(wh).entries(), "the file ledger {f}"),
        ("_file_ledger_pending/run-r7.parquet", lambda wh: fold_committed(wh), "the file-ledger rows committed with run r7, {f},"),
    ],
    ids=["ledger", "pending"],
)
def test_a_ledger_file_whose_opening_is_refused_says_permission_denied_whatever_the_reader_said(tmp_path, monkeypatch, name, read, what):
    """The stored files' rule (warehouse.permission_denied): opening the file refused means permission denied,
    also when the reader's error is another (the ledger looked at the reader's error alone, and said to restore it)."""
    path = tmp_path / "warehouse" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")
    opening = Path.open

    def refused(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return opening(self, *args, **kwargs)

    def reader(source, *args, **kwargs):
        raise pl.exceptions.ComputeError("parquet: File out of specification: underlying IO error")

    monkeypatch.setattr(pl, "read_parquet", reader)
    monkeypatch.setattr(Path, "open", refused)
    with pytest.raises(FileLedgerError) as raised:
        read(tmp_path / "warehouse")
    assert str(raised.value) == (
        f"{what.format(f=path)} cannot be read (ComputeError: parquet: File out of specification: underlying IO error): permission denied: "
        "let the user running rating read it (`ls -l` shows its owner and mode), then run the command again"
    )
