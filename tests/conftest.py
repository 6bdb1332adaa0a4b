"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL cluster for this session (tests/pg_cluster.py); fails, never skips, without one."""
    from pg_cluster import ClusterError, throwaway_cluster

    try:
        with throwaway_cluster() as url:
            yield url
    except ClusterError as exc:
        pytest.fail(f"cannot start the throwaway PostgreSQL cluster: {exc}", pytrace=False)


def _private_prefect_home() -> None:
    """Give Prefect a throwaway home before any test module imports it, so tests never read the user's
    profiles (which may point at a real server) nor write ~/.prefect. Costs nothing until Prefect starts."""
    import atexit
    import os
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="rating-prefect-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["PREFECT_HOME"] = home
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"


_private_prefect_home()


def _no_fixed_terminal_size() -> None:
    """pytest-xdist's workers inherit COLUMNS=80, and rich fixes a console's width from it when the
    console is made (at import): the CLI tests set COLUMNS per invocation instead."""
    import os

    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


_no_fixed_terminal_size()


def _postgres_retried_at_once() -> None:
    """The flows' PostgreSQL tasks retry an unreachable server twice, 5 s apart: the tests (and the commands
    they run, which inherit the environment) retry at once, and still retry (tests/flows/test_retries.py)."""
    import os

    os.environ["RATING_PG_RETRY_DELAY"] = "0"


_postgres_retried_at_once()


@pytest.fixture(autouse=True)
def _prefect_console_on_an_open_stream() -> None:
    """Prefect's console log handler writes to the sys.stderr of when Prefect set up its logging. A
    command invoked in process (click's CliRunner) swaps sys.stderr for a stream it closes afterwards,
    so when Prefect set up its logging during one, every later flow in the worker logged to a closed
    stream and failed (RecursionError in logging's handleError): each test starts with such a handler
    on the test's own sys.stderr."""
    import logging
    import sys

    handlers = sys.modules.get("prefect.logging.handlers")
    if handlers is None:
        return
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]:
        for handler in logger.handlers:
            if isinstance(handler, handlers.PrefectConsoleHandler) and getattr(handler.stream, "closed", False):
                handler.stream = handler.console.file = sys.stderr  # not setStream: it flushes the closed one


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness (a temporary API server on a temporary database), started once per session by the
    first test that asks for it: tests that do not run a flow never pay its ~10-20 s start."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that run a Prefect flow (3-15 s each, on the session's Prefect server) first, the rest in their
    order after them: the two workers then end on short tests together, not one on a run of flows while the
    other waits (28 s of one worker idle at the end of a full run, before)."""
    items.sort(key=lambda item: "prefect_harness" not in getattr(item, "fixturenames", ()))
