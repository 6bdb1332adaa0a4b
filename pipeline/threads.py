"""Whole-column work on both cores: NumPy and Polars release the GIL, so two threads run at once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

#: Rows per piece: a piece's temporary arrays stay in the CPU's cache and the allocator reuses
#: their memory (docs/performance.md).
PIECE_ROWS = 1 << 20


def in_pieces(n: int, work: Callable[[slice], None], rows: int = PIECE_ROWS) -> None:
    """work(slice) over pieces of `rows` of n rows, two pieces at a time (one per core); each
    call writes its own slice of the caller's output arrays."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, (slice(lo, min(lo + rows, n)) for lo in range(0, n, rows))))
