"""Exclusive locks on a warehouse: one rating run, one billing run, one view rebuild at a time.

An advisory `flock` on a lock file inside the warehouse: a second process waits until the first
lets go, and the kernel releases a crashed process's lock by itself. The holder writes who it is
into the file (process id, since when, program and subcommand: never its options, which may
hold a password), and a process that has to wait says so on stderr, naming the holder: a
scheduled run stuck behind a hung one is not silent.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold the lock `lock_file` names (created if missing), waiting while another process holds it."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            print(f"waiting for {lock_file}: held by {holder}", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC ({_command()})\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _command() -> str:
    """The program and its subcommand (`rating run`), never its options: they may hold a password
    (--pg-url), and the lock file is readable by everyone."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"]
    if len(sys.argv) > 1 and sys.argv[1].replace("-", "").isalnum() and not sys.argv[1].startswith("-"):
        words.append(sys.argv[1])
    return " ".join(words)
