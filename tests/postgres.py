"""A real PostgreSQL server for the tests: Debian's ``postgresql``, installed when missing.

:func:`start_server` runs ``initdb`` and ``pg_ctl start`` in a fresh folder (password
authentication, a free port of 127.0.0.1, a socket in the folder), as the ``postgres`` user
when the tests run as root (the server refuses to run as root). :meth:`PostgresServer.stop`
stops it with ``pg_ctl stop -m fast``.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.apt import ensure_installed

_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _bin_dir() -> Path | None:
    found = [Path(p) for p in glob.glob(_BIN_GLOB) if (Path(p) / "postgres").exists()]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


def ensure_postgres(lock_dir: Path) -> Path:
    """The bin folder of Debian's PostgreSQL, installed with apt-get if missing."""
    return ensure_installed(["postgresql"], lock_dir, _bin_dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: ``url(db)`` gives a SQLAlchemy URL with the password in it."""

    bin: Path
    root: Path
    port: int
    user: str
    password: str
    run_as: str | None

    def _run(self, args: list[str], *, server: bool = False) -> subprocess.CompletedProcess:
        """Run a client command, or (``server``) a server one as the server's user."""
        env = dict(os.environ, PGPASSWORD=self.password, LC_ALL="C.UTF-8")
        user = self.run_as if server else None
        return subprocess.run(args, capture_output=True, text=True, check=False, env=env, user=user)

    def url(self, database: str = "postgres") -> str:
        """``postgresql+psycopg://user:password@127.0.0.1:port/database``."""
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, *, file: Path | None = None, command: str | None = None):
        """Run ``psql`` (stopping at the first error); return the completed process."""
        args = [
            str(self.bin / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
        ]
        args += ["-f", str(file)] if file is not None else ["-c", command or ""]
        done = self._run(args)
        assert done.returncode == 0, f"psql failed:\n{done.stderr[-2000:]}"
        return done

    def create_database(self, name: str) -> str:
        """Create database ``name`` (dropping one of that name first); return its URL."""
        self.psql("postgres", command=f'DROP DATABASE IF EXISTS "{name}"')
        self.psql("postgres", command=f"CREATE DATABASE \"{name}\" ENCODING 'UTF8'")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        stop = [str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "stop"]
        self._run(stop, server=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(bin_dir: Path) -> PostgresServer:
    """``initdb`` a new cluster in a fresh folder under the system's temp folder and start it."""
    root = Path(tempfile.mkdtemp(prefix="snr-pg-"))
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        shutil.chown(root, user=run_as)
    password = secrets.token_urlsafe(16)
    server = PostgresServer(bin_dir, root, _free_port(), "snr", password, run_as)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if run_as:
        shutil.chown(pwfile, user=run_as)
    init = server._run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            server.user,
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        server=True,
    )
    assert init.returncode == 0, f"initdb failed:\n{init.stderr[-2000:]}"
    pwfile.unlink()
    options = (
        f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    start = server._run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(root / "data"),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        server=True,
    )
    if start.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        raise AssertionError(f"pg_ctl start failed:\n{start.stderr[-2000:]}\n{log[-2000:]}")
    return server
