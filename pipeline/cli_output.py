"""What the `rating` commands print: one console, and messages whose text is never read as markup.

Rich reads `[...]` as markup, so a file name, a value or an exception's text printed inside an
f-string could lose words (`[sources.<name>]` vanished). `error` and `note` print their label in
colour and the message as written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console()


def error(message: object, label: str = "error") -> None:
    """`label: message`, the label in red, the message as written."""
    console.print(f"[red]{label}[/red]: {escape(str(message))}", soft_wrap=True)


def note(message: object, label: str = "warning") -> None:
    """`label message`, the label in yellow, the message as written."""
    console.print(f"[yellow]{label}[/yellow] {escape(str(message))}", soft_wrap=True)


#: Characters DuckDB reads as a file pattern in the views' paths (there is no escaping them; `{}` it reads as written).
GLOB_CHARACTERS = "*?[]"


def glob_problem(path: Path) -> str | None:
    """Why the warehouse `path` cannot hold the analyst views (None: it can)."""
    found = sorted({c for c in str(path.resolve()) if c in GLOB_CHARACTERS})
    if found:
        return (f"warehouse {path}: its path holds {' '.join(found)}, which DuckDB's views read as a file pattern; "
                "use a path without them")  # fmt: skip
    return None


def unwritable(path: Path) -> str | None:
    """Why a command that writes the warehouse `path` cannot (None: it can): made when missing, as the
    command would make it, and a file created and removed in it. Told before Prefect starts, instead
    of a traceback from the flow's first write (no permission, a read-only mount)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"warehouse {path} cannot be written ({exc.strerror or exc}): pass --warehouse or set RATING_WAREHOUSE"
    return None


def writable_warehouse(path: Path) -> Path:
    """`existing_warehouse(path)` that can be written (`unwritable`); else a message and exit code 2,
    before Prefect starts: for the commands that store into a warehouse rated before."""
    problem = unwritable(existing_warehouse(path))
    if problem:
        error(problem)
        raise typer.Exit(2)
    return path


def existing_warehouse(path: Path) -> Path:
    """`path` when it is a directory; else the message a mistyped --warehouse deserves and exit code 2
    (a command that only reads the warehouse must not report an empty one, nor create it)."""
    if path.exists() and not path.is_dir():
        error(f"warehouse {path} is a file, not a directory: check --warehouse (or RATING_WAREHOUSE)")
        raise typer.Exit(2)
    if not path.is_dir():
        error(f"warehouse {path} does not exist: check --warehouse (or RATING_WAREHOUSE); rate usage into it first")
        raise typer.Exit(2)
    problem = glob_problem(path)
    if problem:
        error(problem)
        raise typer.Exit(2)
    return path
