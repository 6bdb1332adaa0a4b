"""Whole-column work on both cores: NumPy and Polars release the GIL, so two threads run at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar


A = TypeVar("A")
T = TypeVar("T")

#: Rows per piece: a piece's temporary arrays stay in the CPU's cache and the allocator reuses
#: their memory (docs/performance.md).
PIECE_ROWS = 1 << 20


def on_both_cores(work: Callable[[A], T], items: Iterable[A]) -> list[T]:
    """work(item) for every item, two at a time (one per core); the results in the items' order."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(work, items))


def over_pieces(n: int, work: Callable[[slice], T], rows: int = PIECE_ROWS) -> list[T]:
    """work(slice) over pieces of `rows` of n rows, two pieces at a time (one per core); the
    results in the pieces' order."""
    return on_both_cores(work, (slice(lo, min(lo + rows, n)) for lo in range(0, n, rows)))


def in_pieces(n: int, work: Callable[[slice], None], rows: int = PIECE_ROWS) -> None:
    """over_pieces for work that writes its own slice of the caller's output arrays."""
    over_pieces(n, work, rows)
