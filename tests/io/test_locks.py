"""Warehouse locks: who holds one is written in it, and a process that waits says so."""

from __future__ import annotations

import os
import threading
import time

from pipeline.io.locks import exclusive


def test_a_process_that_waits_for_a_lock_names_its_holder(tmp_path, capsys):
    """A run stuck behind a hung one printed nothing until it was killed (flow audit)."""
    lock = tmp_path / ".rating.lock"
    got = threading.Event()

    def wait_for_it() -> None:
        with exclusive(lock):
            got.set()

    with exclusive(lock):
        holder = lock.read_text()
        assert holder.startswith(f"pid {os.getpid()} since ") and " UTC (" in holder
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.3)
        assert not got.is_set()  # still waiting
    waiter.join(timeout=10)
    assert got.is_set()
    assert capsys.readouterr().err == f"waiting for {lock}: held by {holder.strip()}\n"


def test_a_lock_nobody_holds_is_taken_silently(tmp_path, capsys):
    with exclusive(tmp_path / ".rating.lock"):
        pass
    with exclusive(tmp_path / ".rating.lock"):
        pass
    assert capsys.readouterr().err == ""


def test_the_holder_line_names_the_command_never_its_options(tmp_path, monkeypatch):
    """The whole command line went into the lock files, --pg-url password and all (diff review)."""
    monkeypatch.setattr("sys.argv", ["/srv/rating/.venv/bin/rating", "run", "--pg-url", "postgresql://rating:s3cret@db/rating"])
    with exclusive(tmp_path / ".rating.lock"):
        holder = (tmp_path / ".rating.lock").read_text()
    assert holder.endswith(" UTC (rating run)\n") and "s3cret" not in holder
