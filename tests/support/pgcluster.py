"""A throwaway PostgreSQL cluster on 127.0.0.1 for the test session (initdb + pg_ctl)."""

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
from dataclasses import dataclass
from pathlib import Path

# Test clusters trade durability for speed; benchmarks and outage tests ask for a durable one.
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off"


@dataclass
class PostgresCluster:
    data_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None
    options: str = ""

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (if it runs) and delete the cluster."""
        if self.is_running():
            self.stop_server()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def stop_server(self) -> None:
        """`pg_ctl stop -m fast`: the server goes away, the data stays."""
        _run(
            self._command("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"),
            self.run_as,
        )

    def start_server(self) -> None:
        """Start the server again on the same port with the same options."""
        log = str(self.data_dir.parent / "server.log")
        command = ["pg_ctl", "-D", str(self.data_dir), "-o", self.options, "-l", log, "-w", "start"]
        _run(self._command(*command), self.run_as)

    def is_running(self) -> bool:
        status = self._command("pg_ctl", "-D", str(self.data_dir), "status")
        if self.run_as:
            status = ["runuser", "-u", self.run_as, "--", *status]
        return subprocess.run(status, capture_output=True, cwd="/").returncode == 0

    def _command(self, program: str, *args: str) -> list[str]:
        return [str(self.bin_dir / program), *args]


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    override = os.environ.get("OFFERLAB_PG_BIN")
    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"))[::-1]
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def start_cluster(bin_dir: Path, *, durable: bool = False) -> PostgresCluster:
    """initdb a fresh cluster in a temp dir and start it on a free loopback port.

    `durable` keeps PostgreSQL's default fsync and synchronous_commit; otherwise both are off.
    """
    root = Path(tempfile.mkdtemp(prefix="offerlab-pg-"))
    data_dir = root / "data"
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = PostgresCluster(data_dir, _free_port(), bin_dir, run_as)
    _run(
        cluster._command(
            "initdb",
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ),
        run_as,
    )
    cluster.options = (
        f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    )
    if not durable:
        cluster.options += f" {FAST_OPTIONS}"
    cluster.start_server()
    return cluster


@contextmanager
def running_cluster(*databases: str, durable: bool = False) -> Iterator[PostgresCluster]:
    """A throwaway cluster holding the empty `databases`, stopped on exit (for benchmarks)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries not found (set OFFERLAB_PG_BIN)")
    cluster = start_cluster(bin_dir, durable=durable)
    try:
        import psycopg

        dsn = cluster.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as connection:
            for name in databases:
                connection.execute(f"CREATE DATABASE {name}")
        yield cluster
    finally:
        cluster.stop()


def _run(command: list[str], run_as: str | None) -> None:
    if run_as:
        command = ["runuser", "-u", run_as, "--", *command]
    subprocess.run(command, check=True, capture_output=True, cwd="/")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
