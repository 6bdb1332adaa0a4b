"""The tests' throwaway PostgreSQL cluster (tests/pg_cluster.py) when another process holds its port."""

from __future__ import annotations

import socket

import psycopg

import pg_cluster


def test_a_cluster_whose_port_another_process_took_starts_on_another(monkeypatch):
    """The other test worker's cluster may bind the free port first: the server fails with
    'Address already in use', and the cluster starts again on a new free port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        free = pg_cluster._free_port
        offered = iter([held])
        monkeypatch.setattr(pg_cluster, "_free_port", lambda: next(offered, None) or free())
        with pg_cluster.throwaway_cluster() as url:
            assert f":{held}/" not in url
            with psycopg.connect(url) as con:
                assert con.execute("SELECT 1").fetchone() == (1,)
