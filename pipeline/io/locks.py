"""Exclusive locks on a warehouse: one rating run, one billing run, one view rebuild at a time.

An advisory `flock` on a lock file inside the warehouse: a second process waits until the first
lets go, and the kernel releases a crashed process's lock by itself.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold the lock `lock_file` names (created if missing), waiting while another process holds it."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
