"""A throwaway PostgreSQL cluster on 127.0.0.1 for the test session (initdb + pg_ctl)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PostgresCluster:
    data_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        _run(self._command("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "stop"), self.run_as)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

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


def start_cluster(bin_dir: Path) -> PostgresCluster:
    """initdb a fresh cluster in a temp dir and start it on a free loopback port."""
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
    options = (
        f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 "
        "-c max_connections=200 -c fsync=off -c synchronous_commit=off"
    )
    _run(
        cluster._command(
            "pg_ctl",
            "-D",
            str(data_dir),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "start",
        ),
        run_as,
    )
    return cluster


def _run(command: list[str], run_as: str | None) -> None:
    if run_as:
        command = ["runuser", "-u", run_as, "--", *command]
    subprocess.run(command, check=True, capture_output=True, cwd="/")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
