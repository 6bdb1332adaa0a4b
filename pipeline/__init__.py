"""The vectorised core of the rating pipeline: pure functions, frame in, frame out.

Importing the package tunes Polars' allocator (jemalloc) before Polars loads, when the process
has not tuned it itself: freed memory is kept for reuse for 10 s (jemalloc's own default)
instead of Polars' 0.5 s and 1 s. A run's stages free and take back gigabytes every second;
given back to the kernel, every page is faulted in and zeroed again. docs/performance.md has
the A/B (10 M CDRs: 10.2-11.3 s → 9.5-9.7 s end to end, peak memory +4 %). It takes effect
only when `pipeline` (or `flows`) is imported before Polars; `_RJEM_MALLOC_CONF` set by the
caller wins.
"""

import os

#: jemalloc options for the rating process (Polars appends _RJEM_MALLOC_CONF to its defaults; the last value wins).
ALLOCATOR = "dirty_decay_ms:10000,muzzy_decay_ms:10000"

os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)
