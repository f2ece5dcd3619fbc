"""`/api/v1/assign` under gunicorn on loopback, against a bare Flask JSON endpoint served with the
same gunicorn settings, measured by wrk in the same run.

    python benchmarks/assign_load.py [--workers 2] [--threads 4] [--duration 10] [--connections 16]
        [--rounds 3] [--warmup 3] [--no-track-impression] [--log-level WARNING]

Both servers run as `gunicorn` gthread workers on 127.0.0.1. offerlab runs as `offerlab serve`
(production mode) on a SQLite database holding the shipped example experiments; wrk posts a JSON
assign request with an sdk key for a new visitor id on every request (each one a first assignment
that records the impression; `--no-track-impression` leaves that to the SDK's event batches).
The bare endpoint parses the same JSON body and answers a JSON object of the same shape. The two
servers take turns (`--rounds` wrk runs each, alternating) so a change in the machine's load falls
on both, after `--warmup` seconds of unmeasured load on each. The script prints requests/s and
p50/p99 latency of both, the ratio, and the CPU time the server processes spent per request (a
figure that other load on the machine moves less).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "cart-accessory-cross-sell"
TARGET_RATIO = 0.66
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRK_SCRIPT = """
-- A new visitor id on every request: thread number and a per-thread counter.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", "wrk" .. threads)
end
counter = 0
function request()
  counter = counter + 1
  local body = string.format(
    '{"experiment": "EXPERIMENT", "visitor_id": "%s-%d", "track_impression": TRACK}',
    prefix, counter)
  return wrk.format("POST", nil, nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_options(port: int, workers: int, threads: int) -> dict[str, Any]:
    """The settings `offerlab serve` gives gunicorn (platform/offerlab/cli/serve.py)."""
    return {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": 30,
        "accesslog": None,
    }


def serve_bare(port: int, workers: int, threads: int) -> None:
    """A Flask app with one JSON endpoint, under gunicorn with offerlab's settings."""
    from flask import Flask, jsonify, request
    from gunicorn.app.base import BaseApplication

    app = Flask("bare")

    @app.post("/assign")
    def assign() -> Any:
        body = request.get_json()
        return jsonify(
            experiment=body["experiment"],
            variant="case",
            payload={"item": "case", "price": 19},
            in_experiment=True,
            reason="in_experiment",
            allocation_version=1,
            probability=0.25,
        )

    class Bare(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in gunicorn_options(port, workers, threads).items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return app

    Bare().run()


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def launch(command: list[str], port: int, env: dict[str, str]) -> Server:
    """Start a server in its own process group and wait until it answers /healthz or /."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(process, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise SystemExit(f"server did not start: {command}")


def offerlab_env(database_url: str, args: argparse.Namespace, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "OFFERLAB_WORKERS": str(args.workers),
        "OFFERLAB_THREADS": str(args.threads),
        "OFFERLAB_BANDIT_UPDATE_CHECK_SECONDS": "0",
        "OFFERLAB_LOG_LEVEL": args.log_level,
        **extra,
    }


def start_offerlab(database_url: str, args: argparse.Namespace, **extra: str) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "offerlab", "serve", "--port", str(port)]
    return launch(command, port, offerlab_env(database_url, args, **extra))


def prepare_database(database_url: str, *, experiments: bool) -> str:
    """Migrate the database, apply the example experiments if asked; returns a new sdk key."""
    from datetime import UTC, datetime

    from offerlab.definitions import load_definitions
    from offerlab.services.experiments import apply_definitions
    from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
    from offerlab.storage.keys import create_key
    from offerlab.storage.migrate import upgrade

    upgrade(database_url)
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with session_scope(make_sessionmaker(engine)) as session:
        if experiments:
            loaded = load_definitions(ROOT / "experiments")
            apply_definitions(session, loaded.experiments, now=now)
        _row, secret = create_key(session, role="sdk", name="benchmark", now=now)
    engine.dispose()
    return secret


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def run_wrk(url: str, script: Path, args: argparse.Namespace, headers: dict[str, str]) -> WrkResult:
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> WrkResult:
    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        assert match, output
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    assert rate and total, output
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return WrkResult(
        float(rate.group(1)), latency("50"), latency("99"), int(total.group(1)), errors
    )


def print_result(name: str, result: WrkResult) -> None:
    print(
        f"{name:<24} {result.requests_per_second:>10,.0f} req/s   p50 {result.p50_ms:>7.2f} ms"
        f"   p99 {result.p99_ms:>7.2f} ms   ({result.requests:,} requests, {result.errors} errors)"
    )


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (from /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            # Fields after the command name: state is the first, utime the 12th, stime the 13th.
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process ended while it was being read
    return total


@dataclass
class Measured:
    """One server's wrk rounds, with the server's CPU time spent on each."""

    rounds: list[WrkResult]
    cpu_seconds: float

    @property
    def requests_per_second(self) -> float:
        seconds = sum(r.requests / r.requests_per_second for r in self.rounds)
        return sum(r.requests for r in self.rounds) / seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / sum(r.requests for r in self.rounds)

    def summary(self) -> WrkResult:
        """All rounds as one: their overall rate, and the median of their p50 and p99."""
        return WrkResult(
            self.requests_per_second,
            statistics.median(r.p50_ms for r in self.rounds),
            statistics.median(r.p99_ms for r in self.rounds),
            sum(r.requests for r in self.rounds),
            sum(r.errors for r in self.rounds),
        )


def run_round(
    server: Server,
    url: str,
    script: Path,
    args: argparse.Namespace,
    headers: dict[str, str],
    measured: Measured,
) -> None:
    cpu_before = process_tree_cpu_seconds(server.process.pid)
    measured.rounds.append(run_wrk(url, script, args, headers))
    measured.cpu_seconds += process_tree_cpu_seconds(server.process.pid) - cpu_before


def measure(args: argparse.Namespace, workdir: Path) -> tuple[Measured, Measured]:
    database_url = f"sqlite:///{workdir / 'assign.db'}"
    secret = prepare_database(database_url, experiments=True)
    script = workdir / "assign.lua"
    track = "true" if args.track_impression else "false"
    script.write_text(WRK_SCRIPT.replace("EXPERIMENT", EXPERIMENT).replace("TRACK", track))
    json_headers = {"Content-Type": "application/json"}
    # The per-key assign limit stays on, set high enough never to refuse the benchmark.
    offerlab = start_offerlab(database_url, args, OFFERLAB_RATE_LIMIT_ASSIGN="100000000/minute")
    bare_port = free_port()
    bare = launch(
        [sys.executable, __file__, "--serve-bare", str(bare_port)],
        bare_port,
        {"OFFERLAB_WORKERS": str(args.workers), "OFFERLAB_THREADS": str(args.threads)},
    )
    assign_headers = {**json_headers, "Authorization": f"Bearer {secret}"}
    assign_url = f"http://127.0.0.1:{offerlab.port}/api/v1/assign"
    bare_measured, assign_measured = Measured([], 0.0), Measured([], 0.0)
    bare_url = f"http://127.0.0.1:{bare_port}/assign"
    try:
        # Not measured: both servers answer a while first, so neither round 1 pays for worker
        # start-up (imports, first connections, caches) still running in the background.
        warm_up = argparse.Namespace(**{**vars(args), "duration": args.warmup})
        run_wrk(bare_url, script, warm_up, json_headers)
        run_wrk(assign_url, script, warm_up, assign_headers)
        # Alternating rounds, so a change in the machine's load hits both servers alike.
        for _round in range(args.rounds):
            run_round(bare, bare_url, script, args, json_headers, bare_measured)
            run_round(offerlab, assign_url, script, args, assign_headers, assign_measured)
    finally:
        offerlab.stop()
        bare.stop()
    return assign_measured, bare_measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating wrk runs per server (bare first)"
    )
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of unmeasured wrk load on each server first"
    )
    parser.add_argument(
        "--no-track-impression",
        dest="track_impression",
        action="store_false",
        help="assign without recording the impression (the SDK then reports it via /events)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="offerlab's log level: INFO writes the JSON access line of every request (to "
        "/dev/null here); WARNING, the default, skips them",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        workers = int(os.environ["OFFERLAB_WORKERS"])
        serve_bare(args.serve_bare, workers, int(os.environ["OFFERLAB_THREADS"]))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="offerlab-assign-load-"))
    try:
        assign_result, bare_result = measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"gunicorn gthread, {args.workers} workers x {args.threads} threads; wrk "
        f"-t{args.wrk_threads} -c{args.connections} -d{args.duration}s x {args.rounds} rounds; "
        f"track_impression={'true' if args.track_impression else 'false'}; "
        f"offerlab log level {args.log_level}"
    )
    for name, measured in (
        ("bare Flask JSON", bare_result),
        ("offerlab /api/v1/assign", assign_result),
    ):
        rates = ", ".join(f"{r.requests_per_second:,.0f}" for r in measured.rounds)
        print_result(name, measured.summary())
        print(f"    rounds {rates} req/s; server CPU {measured.cpu_ms_per_request:.3f} ms/request")
    ratio = assign_result.requests_per_second / bare_result.requests_per_second
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    print(f"ratio assign / bare: {ratio:.2f}x (target >= {TARGET_RATIO}x) {verdict}")
    cpu_ratio = bare_result.cpu_ms_per_request / assign_result.cpu_ms_per_request
    print(f"server CPU per request, bare / assign: {cpu_ratio:.2f}x (less sensitive to the load)")


if __name__ == "__main__":
    main()
