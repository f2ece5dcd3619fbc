"""`offerlab serve` (gunicorn) as a child process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """A running `offerlab serve`: its gunicorn master, its port and its log file."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        """SIGTERM to the master only: gunicorn's graceful shutdown."""
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers), if still there."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        _kill_group_leftovers(self.process.pid)


def start_service(
    database_url: str,
    log_path: Path,
    *,
    port: int | None = None,
    workers: int = 2,
    threads: int = 4,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    """Start `offerlab serve` on `database_url` and wait until /healthz answers."""
    port = port or free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OFFERLAB_WORKERS": str(workers),
        "OFFERLAB_THREADS": str(threads),
        "OFFERLAB_BANDIT_UPDATE_CHECK_SECONDS": "0",
        "OFFERLAB_RATE_LIMIT_EVENTS": "",
        "OFFERLAB_RATE_LIMIT_ASSIGN": "",
        **(env or {}),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "offerlab", "serve", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = ServiceProcess(process, port, log_path)
    if not _wait_healthy(service):
        service.kill()
        raise AssertionError(f"the service did not start:\n{service.log()[-3000:]}")
    return service


def _wait_healthy(service: ServiceProcess) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and service.process.poll() is None:
        try:
            if httpx.get(f"{service.base_url}/healthz", timeout=0.5).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def _kill_group_leftovers(pgid: int) -> None:
    # Workers orphaned by a killed master keep the group id; none may outlive the test.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
