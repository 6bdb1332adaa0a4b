"""Where things are: settings from the command line, then environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Paths and connections of one installation.

    Environment: RATING_CATALOG, RATING_INBOX, RATING_WAREHOUSE, RATING_SOURCES,
    RATING_PG_URL (a libpq URL; when unset, nothing is written to Postgres).
    """

    catalog: Path
    inbox: Path
    warehouse: Path
    sources: Path
    pg_url: str | None

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        inbox = Path(overrides.get("inbox") or env.get("RATING_INBOX", "data/sample/inbox"))
        values = {
            "catalog": Path(overrides.get("catalog") or env.get("RATING_CATALOG", "data/sample/catalog")),
            "inbox": inbox,
            "warehouse": Path(overrides.get("warehouse") or env.get("RATING_WAREHOUSE", "warehouse")),
            "sources": Path(overrides.get("sources") or env.get("RATING_SOURCES", inbox / "sources.toml")),
            "pg_url": overrides.get("pg_url") or env.get("RATING_PG_URL") or None,
        }
        return cls(**values)


class SettingError(ValueError):
    """An environment setting that cannot be used: its message names it and says what it takes (the
    commands print it, exit code 2, as for a bad option)."""


def postgres_retry_delay() -> float:
    """Seconds a flow's PostgreSQL task waits before each of its two retries of an unreachable server
    (env RATING_PG_RETRY_DELAY, default 5). Read when the flows are imported: Prefect fixes a task's
    retry delay when the task is made."""
    raw = os.environ.get("RATING_PG_RETRY_DELAY", "5")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SettingError(f"RATING_PG_RETRY_DELAY={raw!r}: give the seconds to wait before retrying PostgreSQL, a number >= 0")
    return seconds
