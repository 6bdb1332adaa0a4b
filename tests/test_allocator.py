"""Importing `pipeline` tunes Polars' jemalloc before Polars loads, unless the caller did (pipeline/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
