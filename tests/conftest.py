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
