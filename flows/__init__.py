"""Prefect flows: they wire the pure stages of `pipeline` to I/O, with retries and logging."""

import pipeline  # noqa: F401  first: it tunes Polars' allocator before Polars loads
from pipeline.config import postgres_retry_delay

#: Seconds between a PostgreSQL task's tries of an unreachable server (retry_when_unreachable).
POSTGRES_RETRY_DELAY = postgres_retry_delay()


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


def refresh_views(warehouse_dir, logger) -> str | None:
    """Build the analyst database (every view, the rating and billing runs') anew only where it would
    read the wrong files, and say why to `logger` (a task's run logger; pipeline.io.views.refresh): the
    views read their files when queried, so a run's new files need none. A rebuild reads every stored
    file's footer: 1.5 s with 1 000 stored runs (docs/performance.md).

    Returns None, or what kept the database from being built: a warning, not the run's failure (its
    tables are stored by then; the live database stays as it was, and the next run builds it again)."""
    from pipeline.io import views

    try:
        why = views.refresh(warehouse_dir)
    except Exception as exc:  # whatever failed, the run's tables are stored
        problem = (
            f"the analyst views were not built anew ({type(exc).__name__}: {exc}); what the run stored is in place: "
            f"`rating views --warehouse {warehouse_dir}` builds them once that is fixed (the next run tries again)"
        )
        logger.warning("%s", problem)  # no traceback: `rating views` shows one where the error is a bug of ours
        return problem
    if why is not None:
        logger.info("analyst views built anew: %s", why)
    return None
