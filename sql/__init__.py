"""Every SQL statement of the project lives in a .sql file below this folder, loaded by name.

`load("duck/line_terms")` returns the text of `sql/duck/line_terms.sql`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The SQL text of `sql/<name>.sql`."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def statements(name: str) -> list[str]:
    """The `;`-separated statements of a file that holds several (DDL, macros)."""
    return [s.strip() for s in load(name).split(";\n") if s.strip() and not _only_comments(s)]


def _only_comments(text: str) -> bool:
    return all(line.strip().startswith("--") or not line.strip() for line in text.splitlines())
