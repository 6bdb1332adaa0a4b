"""Prefect flows: they wire the pure stages of `pipeline` to I/O, with retries and logging."""

import pipeline  # noqa: F401  first: it tunes Polars' allocator before Polars loads


def retry_when_unreachable(task, task_run, state) -> bool:
    """A PostgreSQL task's retry condition: retry only when the server could not be reached; a
    rejected write, or tables refused for their schema, fail the same way again."""
    from pipeline.io.postgres import PostgresUnavailable

    try:
        state.result()
    except PostgresUnavailable:
        return True
    except Exception:
        return False
    return False
