"""Importing `pipeline` tunes Polars' jemalloc before Polars loads, unless the caller did, and glibc's malloc (pipeline/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline import GLIBC_MALLOC_ENV

SHOW = "import pipeline, polars, os; print(os.environ['_RJEM_MALLOC_CONF'])"


@pytest.mark.parametrize(
    ("given", "conf"),
    [
        (None, "dirty_decay_ms:500,muzzy_decay_ms:1000,dirty_decay_ms:10000,muzzy_decay_ms:10000"),
        ("dirty_decay_ms:0", "dirty_decay_ms:500,muzzy_decay_ms:1000,dirty_decay_ms:0"),
    ],
)
def test_the_allocator_keeps_freed_memory_ten_seconds_unless_the_caller_says_otherwise(given: str | None, conf: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    shown = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == conf  # Polars' defaults first, then ours or the caller's: jemalloc takes the last


def test_polars_loaded_first_keeps_its_own_defaults() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    code = "import polars, pipeline, os; print(os.environ['_RJEM_MALLOC_CONF'])"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "dirty_decay_ms:500,muzzy_decay_ms:1000"


#: Where a 64 MiB NumPy array lives after importing `pipeline`: in the heap (glibc tuned) or in a mapping of its own.
WHERE = """
import pipeline, numpy as np
a = np.ones(8 << 20)
at = a.ctypes.data
heap = [line.split()[0] for line in open("/proc/self/maps") if line.rstrip().endswith("[heap]")]
inside = any(int(lo, 16) <= at < int(hi, 16) for lo, hi in (r.split("-") for r in heap))
print(pipeline.GLIBC_MALLOC_TUNED, "heap" if inside else "mapped")
"""


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ({}, "True heap"),
        ({"MALLOC_MMAP_MAX_": "65536"}, "False mapped"),
        # the caller's own threshold: arrays of 1 MiB and more mapped (mmap switched off, it held no array)
        ({"MALLOC_MMAP_THRESHOLD_": "1048576"}, "False mapped"),
        ({"GLIBC_TUNABLES": "glibc.malloc.mmap_max=65536"}, "False mapped"),
    ],
)
def test_large_numpy_arrays_come_from_the_heap_unless_the_caller_tuned_glibc(given: dict[str, str], shown: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in GLIBC_MALLOC_ENV}
    shown_here = subprocess.run([sys.executable, "-c", WHERE], env=env | given, capture_output=True, text=True, check=True)
    assert shown_here.stdout.strip() == shown


#: How many glibc arenas hold memory after more threads than cores allocated NumPy arrays at once
#: (malloc_stats prints one block per arena).
ARENAS = """
import pipeline, ctypes, os, threading, numpy as np
from concurrent.futures import ThreadPoolExecutor
n = os.cpu_count() + 2
ready = threading.Barrier(n)
def allocate(i):
    ready.wait()  # every thread of the pool alive and allocating at once
    return [np.ones(100_000 + i) for _ in range(20)]
with ThreadPoolExecutor(n) as pool:
    list(pool.map(allocate, range(n)))
ctypes.CDLL(None).malloc_stats()
"""


@pytest.mark.parametrize(("given", "at_most_one_per_core"), [({}, True), ({"MALLOC_ARENA_MAX": "64"}, False)])
def test_glibc_makes_at_most_an_arena_per_core_unless_the_caller_tuned_it(given: dict[str, str], at_most_one_per_core: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k not in GLIBC_MALLOC_ENV}
    stats = subprocess.run([sys.executable, "-c", ARENAS], env=env | given, capture_output=True, text=True, check=True).stderr
    arenas = sum(line.startswith("Arena ") for line in stats.splitlines())
    assert (arenas <= (os.cpu_count() or 1)) is at_most_one_per_core, stats
