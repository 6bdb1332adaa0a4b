"""Prefect flows: they wire the pure stages of `pipeline` to I/O, with retries and logging."""

import pipeline  # noqa: F401  first: it tunes Polars' allocator before Polars loads
