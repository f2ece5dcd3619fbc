"""Group commit of the impressions that HTTP assign records.

Every request hands its impression row to the process's writer thread and waits until the
transaction holding that row has committed; only then is the request answered, so an answered
assignment's impression is as durable as before (one committed transaction, SQLite with
``synchronous=FULL``). The writer takes every row queued while the previous transaction was
committing into the next one, so N concurrent requests cost one transaction and one fsync
instead of N, and they no longer queue on SQLite's single writer lock one by one. Requests
announce themselves when they start (`announced`): with others still being handled, the writer
waits for their rows (at most `GATHER_SECONDS`) before it commits, since a transaction costs
far more than a row; a lone request is committed at once.

A failed transaction is retried row by row, so one bad row fails only its own request; an error
is raised in the waiting request (a database outage then answers 503 as any other request). The
thread starts on the first write in the serving process (never before a pre-forking server
forks) and ends after ``idle_seconds`` without work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from offerlab.errors import OfferlabError
from offerlab.storage.db import write_connection
from offerlab.storage.events import encode_events, store_encoded

log = logging.getLogger(__name__)
MAX_BATCH_ROWS = 500
COMMIT_WAIT_SECONDS = 60.0
GATHER_SECONDS = 0.002


class ImpressionNotRecorded(OfferlabError):
    """The impression's transaction did not finish in time; the request may be retried."""

    status = 503
    title = "Service unavailable"


@dataclass
class _Entered:
    wrote: bool = False


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
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._max_batch_rows = max_batch_rows
        self._idle_seconds = idle_seconds
        self._gather_seconds = gather_seconds
        self._changed = threading.Condition()
        self._queue: list[_Pending] = []
        self._announced = 0
        self._current = threading.local()  # the announced request handled on this thread
        self._thread: threading.Thread | None = None

    @contextmanager
    def announced(self) -> Iterator[None]:
        """Wrap a request that may `write` an impression: while it is being handled the writer
        waits (at most `gather_seconds`) for its row before committing, so concurrent requests
        share a transaction. A request that writes nothing is waited for no longer."""
        with self._changed:
            self._announced += 1
        entered = _Entered()
        self._current.entered = entered
        try:
            yield
        finally:
            self._current.entered = None
            if not entered.wrote:
                with self._changed:
                    self._announced -= 1
                    self._changed.notify_all()

    def write(self, row: Mapping[str, Any]) -> None:
        """Store one impression row (and its first exposure); return once it is committed."""
        pending = _Pending(row)
        entered = getattr(self._current, "entered", None)
        with self._changed:
            if entered is not None and not entered.wrote:
                entered.wrote = True
                self._announced -= 1
            self._queue.append(pending)
            self._changed.notify_all()
            self._ensure_running()
        if not pending.done.wait(COMMIT_WAIT_SECONDS):
            raise ImpressionNotRecorded("the impression could not be recorded in time; retry")
        if pending.error is not None:
            raise pending.error

    def pending_rows(self) -> int:
        """Rows handed in and not yet taken into a transaction."""
        with self._changed:
            return len(self._queue)

    def _ensure_running(self) -> None:
        # Called under self._changed, the lock the thread also ends under.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="offerlab-impression-writer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._commit(batch)

    def _next_batch(self) -> list[_Pending] | None:
        """The next rows to commit: once any is queued, more until every announced request has
        handed in its row or withdrawn, or `gather_seconds` have passed. None: idle, ending."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._queue, timeout=self._idle_seconds):
                self._thread = None  # writers start a new thread under this same lock
                return None
            deadline = time.monotonic() + self._gather_seconds
            while self._announced > 0 and len(self._queue) < self._max_batch_rows:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            batch = self._queue[: self._max_batch_rows]
            del self._queue[: self._max_batch_rows]
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
        with write_connection(self._sessions.kw["bind"]) as connection:
            store_encoded(connection, encoded)
