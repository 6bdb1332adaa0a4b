"""What the `rating` commands print: one console, and messages whose text is never read as markup.

Rich reads `[...]` as markup, so a file name, a value or an exception's text printed inside an
f-string could lose words (`[sources.<name>]` vanished). `error` and `note` print their label in
colour and the message as written.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

console = Console()


def error(message: object, label: str = "error") -> None:
    """`label: message`, the label in red, the message as written."""
    console.print(f"[red]{label}[/red]: {escape(str(message))}", soft_wrap=True)


def note(message: object, label: str = "warning") -> None:
    """`label message`, the label in yellow, the message as written."""
    console.print(f"[yellow]{label}[/yellow] {escape(str(message))}", soft_wrap=True)
