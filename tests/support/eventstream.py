"""Event batches for end-to-end ingest tests, and what the database holds afterwards."""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path


def order_batch(prefix: str, size: int) -> list[dict]:
    """`size` order events whose event ids (and order ids) all start with `prefix`."""
    stamp = datetime.now(UTC).isoformat()
    return [
        {
            "event_id": f"{prefix}-e{k}",
            "type": "order",
            "visitor_id": f"{prefix}-v{k}",
            "order_id": f"{prefix}-o{k}",
            "value": 25.0,
            "currency": "EUR",
            "timestamp": stamp,
        }
        for k in range(size)
    ]


def event_ids(batch: list[dict]) -> set[str]:
    return {event["event_id"] for event in batch}


def stored_event_counts(database_url: str) -> Counter[str]:
    """How many rows the events table holds per event id."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT event_id FROM events"))
            return Counter(row[0] for row in rows)
    finally:
        engine.dispose()


def open_files(pid: int) -> set[str]:
    """The paths of the files process `pid` holds open (Linux /proc)."""
    found = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.add(os.readlink(entry))
        except OSError:
            continue
    return found


def tcp_peers(pid: int) -> set[int]:
    """Remote ports of the TCP connections process `pid` holds open (Linux /proc)."""
    inodes = {
        int(match.group(1))
        for target in open_files(pid)
        if (match := re.fullmatch(r"socket:\[(\d+)\]", target))
    }
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[9]) in inodes:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (gunicorn's workers, for its master)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
