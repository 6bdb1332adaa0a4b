"""The inbox: which usage files are there, and what identifies them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SKIP = {"sources.toml", "README.md"}


def inbox_files(inbox: Path) -> list[Path]:
    """Usage files in the inbox (not its configuration), in a stable order; a link that leads nowhere
    is one too, so that it is reported instead of passed over."""
    return sorted(
        p for p in Path(inbox).iterdir() if (p.is_file() or p.is_symlink() and not p.exists()) and p.name not in SKIP and not p.name.startswith(".")
    )


def inbox_directories(inbox: Path) -> list[Path]:
    """The directories in the inbox (not hidden ones): the inbox is read flat, so their files are
    not read, and they are reported instead of passed over."""
    return sorted(p for p in Path(inbox).iterdir() if p.is_dir() and not p.name.startswith("."))


def utf8_name(path: Path) -> bool:
    """Whether the file's name is UTF-8 text. Another system's code page (`M\\xfcller.csv`, latin-1 from a
    Windows share) decodes to lone surrogates that no table (Parquet, PostgreSQL) or log can hold."""
    try:
        Path(path).name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: Path) -> Path:
    """`path` with its name as text: bytes that are not UTF-8 written as `\\x..` escapes (for reports only:
    no file has that name)."""
    path = Path(path)
    return path if utf8_name(path) else path.with_name(os.fsencode(path.name).decode("utf-8", "backslashreplace"))


def age_s(path: Path, now: float) -> float | None:
    """Seconds since the file was last modified (at `now`, epoch seconds; negative when its mtime
    is ahead of this clock); None when it cannot be stat'ed (a dangling link: reported when it is
    described)."""
    try:
        return now - path.stat().st_mtime
    except OSError:
        return None


def unsettled(path: Path, now: float, settle_s: float) -> str | None:
    """Why the file waits for a later run, or None: it was modified less than `settle_s` seconds
    before `now` (an upload may be in progress). An mtime ahead of this clock by less than
    `settle_s` (a file server's clock) waits as well; one further ahead was set, not written (a
    copy that kept the partner's times), and is read: no file waits until a time that may never
    come. No settle time (0): nothing waits."""
    age = age_s(path, now) if settle_s > 0 else None
    if age is None or abs(age) >= settle_s:
        return None
    when = f"modified {age:.0f} s ago" if age >= 0 else f"modified {-age:.0f} s ahead of this clock"
    return (f"{when}, less than the settle time of {settle_s:g} s (--settle): it may still be uploading; "
            "the next run looks again")  # fmt: skip


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: a file is the same file when its content is the same."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_id_for(hashes: list[str]) -> str:
    """A run is identified by the contents it rates: the same files give the same run id."""
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()[:16]
