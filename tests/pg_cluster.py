"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temp dir, gone afterwards.

Why not a container or a shared server: CI runs on a bare machine with only the Debian
`postgresql-15` package (installed by .ci/run), and a private cluster per test session
cannot collide with anything else on the machine. PostgreSQL refuses to run as root, so
under root the server runs as the `postgres` OS user that the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "postgres"
#: What the server log says when another process bound the port first (the errno text of EADDRINUSE).
PORT_TAKEN = "Address already in use"
INSTALL_HINT = (
    "the PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin "
    "nor on PATH; install them with `apt-get install -y postgresql-15` (bash .ci/run does this)"
)


class ClusterError(RuntimeError):
    """The throwaway cluster could not be created or started; the message says what to fix."""


def server_bindir() -> Path:
    """The bin dir of the newest installed PostgreSQL server (Debian layout first, then PATH)."""
    debian = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: _version_key(d.parent.name),
    )
    if debian:
        return debian[-1]
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(os.path.realpath(initdb)).parent
    raise ClusterError(INSTALL_HINT)


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a private cluster listening on 127.0.0.1 (trust auth); yield its URL; stop and delete it."""
    bindir = server_bindir()
    as_user = _run_as_prefix()
    # Under root the server user must reach the dir: /tmp is world-traversable, a custom TMPDIR may not be.
    root = Path(tempfile.mkdtemp(prefix="rating-pg-", dir="/tmp" if as_user else None))
    try:
        if as_user:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        data, log = root / "data", root / "server.log"
        _run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            cwd=root,
        )
        for attempt in range(3):  # another process (the other test worker's cluster) may take the free port first
            port = _free_port()
            options = " ".join(
                [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={root}",
                 "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            )
            try:
                _run([*as_user, str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                      "-l", str(log), "-o", options], cwd=root, log=log)
                break
            except ClusterError as error:
                if attempt == 2 or PORT_TAKEN not in str(error):  # only a lost race for the port is worth a retry
                    raise
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", str(data)],
                           cwd=root, capture_output=True, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_as_prefix() -> list[str]:
    """The command prefix that drops root to the `postgres` user; empty when not root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterError(
            f"running as root, and PostgreSQL refuses to run as root, but there is no `{SERVER_USER}` "
            "OS user to run it as; install the Debian package `postgresql-15` (it creates that user) "
            "or run the tests as a normal user"
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SERVER_USER, "--"]
    raise ClusterError("running as root needs `runuser` (Debian package util-linux) to start PostgreSQL as `postgres`")


def _run(command: list[str], cwd: Path, log: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        server_log = log.read_text(errors="replace") if log and log.exists() else ""
        raise ClusterError(
            f"`{' '.join(command)}` failed with exit code {done.returncode}:\n{done.stdout}{done.stderr}{server_log}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())
