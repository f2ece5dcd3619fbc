"""Group commit of the impressions that HTTP assign records.

Every request hands its impression row to the process's writer thread and waits until the
transaction holding that row has committed; only then is the request answered, so an answered
assignment's impression is as durable as before (one committed transaction, SQLite with
``synchronous=FULL``). The writer takes every row queued while the previous transaction was
committing into the next one, so N concurrent requests cost one transaction and one fsync
instead of N, and they no longer queue on SQLite's single writer lock one by one.

A failed transaction is retried row by row, so one bad row fails only its own request; an error
is raised in the waiting request (a database outage then answers 503 as any other request). The
thread starts on the first write in the serving process (never before a pre-forking server
forks) and ends after ``idle_seconds`` without work.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from offerlab.errors import OfferlabError
from offerlab.storage.db import write_scope
from offerlab.storage.events import encode_events, store_encoded

log = logging.getLogger(__name__)
MAX_BATCH_ROWS = 500
COMMIT_WAIT_SECONDS = 60.0


class ImpressionNotRecorded(OfferlabError):
    """The impression's transaction did not finish in time; the request may be retried."""

    status = 503
    title = "Service unavailable"


@dataclass
class _Pending:
    row: Mapping[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class ImpressionWriter:
    """Commits the impression rows of concurrent requests together (see the module doc)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_batch_rows: int = MAX_BATCH_ROWS,
        idle_seconds: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._max_batch_rows = max_batch_rows
        self._idle_seconds = idle_seconds
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def write(self, row: Mapping[str, Any]) -> None:
        """Store one impression row (and its first exposure); return once it is committed."""
        pending = _Pending(row)
        self._queue.put(pending)
        self._ensure_running()
        if not pending.done.wait(COMMIT_WAIT_SECONDS):
            raise ImpressionNotRecorded("the impression could not be recorded in time; retry")
        if pending.error is not None:
            raise pending.error

    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="offerlab-impression-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    # Writers enqueue before they take the lock, so an empty queue seen under
                    # the lock means no request is left waiting for this thread.
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            self._commit(self._drain(first))

    def _drain(self, first: _Pending) -> list[_Pending]:
        batch = [first]
        while len(batch) < self._max_batch_rows:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._store(batch)
        except Exception as error:  # noqa: BLE001 - every error goes back to its request
            if len(batch) == 1:
                batch[0].error = error
            else:
                log.warning("impression batch of %d failed, retrying one by one", len(batch))
                for pending in batch:
                    self._commit([pending])
                return
        for pending in batch:
            pending.done.set()

    def _store(self, batch: list[_Pending]) -> None:
        encoded = encode_events([pending.row for pending in batch])
        with write_scope(self._sessions) as session:
            store_encoded(session, encoded)
