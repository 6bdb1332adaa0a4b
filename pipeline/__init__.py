"""The vectorised core of the rating pipeline: pure functions, frame in, frame out.

Importing the package tunes the process's two big allocators to keep the memory they free for
reuse, because on this VM a fresh page costs about as much as filling it (docs/performance.md,
"Why a fresh page costs about as much as filling it"):

* Polars' jemalloc, before Polars loads, when the process has not tuned it itself: freed memory
  is kept for 10 s (jemalloc's own default) instead of Polars' 0.5 s and 1 s. A run's stages free
  and take back gigabytes every second. It takes effect only when `pipeline` (or `flows`) is
  imported before Polars; `_RJEM_MALLOC_CONF` set by the caller wins.
* glibc's malloc, which NumPy allocates with: arrays of more than 32 MiB (a 10 M-row column is
  80 MB) are mapped for each allocation and unmapped when freed, so every such array starts
  on fresh pages. Here they come from the heap, which keeps up to 2 GiB of freed memory
  (`mallopt` M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB). And glibc makes at most one arena (a heap of
  its own for threads to allocate from) per core (M_ARENA_MAX), not its default of eight per core: the
  threads that compute NumPy's pieces (pipeline/threads.py, new ones for each step) and DuckDB's
  workers each took one, each with its own memory to warm up (13 arenas on this 2-core machine
  after a few steps; fewer page faults and less system time with one or two: docs/performance.md,
  "twenty-fourth session"). One per core keeps DuckDB's workers from waiting on each other's
  arena on a larger machine. The limit only stops glibc from making more arenas, so it is set at
  import, before Polars, DuckDB or a thread pool starts a thread. Not done when the caller set glibc's
  malloc options in the environment (`MALLOC_MMAP_MAX_`, `MALLOC_MMAP_THRESHOLD_`,
  `MALLOC_TRIM_THRESHOLD_`, `MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`): M_MMAP_MAX 0 would leave a
  caller's own mmap threshold no mapping to make.
"""

import ctypes
import os

#: jemalloc options for the rating process (Polars appends _RJEM_MALLOC_CONF to its defaults; the last value wins).
ALLOCATOR = "dirty_decay_ms:10000,muzzy_decay_ms:10000"
#: glibc mallopt parameters and the values set (malloc.h): no mapped allocations, keep 2 GiB of freed
#: heap, an arena per core.
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
GLIBC_MALLOC = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1, M_ARENA_MAX: os.cpu_count() or 1}
#: Environment variables by which the caller sets glibc's malloc options itself.
GLIBC_MALLOC_ENV = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")

os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)


def _tune_glibc_malloc() -> bool:
    """Set GLIBC_MALLOC with mallopt; False where the C library is not glibc or the caller set its own."""
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        glibc = None
    if not glibc or any(name in os.environ for name in GLIBC_MALLOC_ENV):
        return False
    libc = ctypes.CDLL(None)
    return all(libc.mallopt(param, value) == 1 for param, value in GLIBC_MALLOC.items())


GLIBC_MALLOC_TUNED = _tune_glibc_malloc()
