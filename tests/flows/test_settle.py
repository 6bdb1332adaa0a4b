"""The settle time of `rating run --settle` / `rating serve`: which inbox files wait for the next run."""

from __future__ import annotations

import logging
import os
import time

import pytest

import flows.rate_usage as rate_usage


@pytest.mark.parametrize(
    ("settle_s", "modified", "waits"),
    [
        (0, -3600, False),  # no settle time (rating run's default): every file is read
        (0, 30, False),  # ...also one whose mtime is ahead of this clock (the partner's clock, scp -p / rsync -t)
        (0, 10 * 86400, False),
        (60, -3600, False),  # settled
        (60, -5, True),  # just written: an upload may be in progress
        (60, 5, True),  # a few seconds ahead (a file server's clock): it may still be written, wait as for -5
        (60, 3600, False),  # an hour ahead: an mtime set by hand or copied, not a write in progress; never waits forever
        (60, 365 * 86400, False),
    ],
    ids=["no-settle", "no-settle-future", "no-settle-far-future", "settled", "uploading", "skewed-clock", "future-hour", "future-year"],
)
def test_only_a_file_modified_within_the_settle_time_waits(tmp_path, monkeypatch, settle_s, modified, waits):
    monkeypatch.setattr(rate_usage, "get_run_logger", lambda: logging.getLogger("test"))
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    inbox.mkdir()
    warehouse.mkdir()
    path = inbox / "partner-20261001.csv"
    path.write_text("a;b\n1;2\n")
    now = time.time()  # at the test, not at collection: a worker may run it minutes later
    os.utime(path, (now + modified, now + modified))
    hand_in = rate_usage.check_inbox.fn(inbox, warehouse, False, None, settle_s)
    assert ([f.path.name for f in hand_in.new], [f.path.name for f, _ in hand_in.skipped]) == (
        ([], [path.name]) if waits else ([path.name], [])
    )
    if waits:
        assert "settle time of 60 s (--settle)" in hand_in.skipped[0][1]
