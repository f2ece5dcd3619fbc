"""Engines and sessions; SQLite gets WAL and full fsync, so acknowledged events survive a crash.

SQLite has one writer at a time per file, and a connection that finds the file locked polls
with growing sleeps (1, 2, 5, 10 ... 100 ms) until it may write. Under load that idles the
writers of other gunicorn workers well after the lock is free, so the busy write paths (event
batches, impressions, the rollup refresh) first queue on an OS file lock beside the database
(`write_scope`, `write_connection`), which wakes the next writer the moment the current one
commits.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # not on Windows; the lock is then skipped
    fcntl = None  # type: ignore[assignment]


def make_engine(database_url: str, *, sqlite_cache_mib: int = 32, **kwargs: Any) -> Engine:
    """Create an engine for `database_url` with the per-dialect settings the service relies on."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        def configure(dbapi_connection: Any, _record: Any) -> None:
            _configure_sqlite(dbapi_connection, sqlite_cache_mib)

        event.listen(engine, "connect", configure)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(dbapi_connection: Any, cache_mib: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB, not pages
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with sessions() as session, session.begin():
        yield session


@contextmanager
def write_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """`session_scope` for a write transaction: on a SQLite file, taken in turn with every
    other process's writers (see the module doc)."""
    with _writer_lock(sessions.kw["bind"]).held(), session_scope(sessions) as session:
        yield session


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """`write_scope` for Core statements alone: a connection in a transaction, without a Session
    (whose set-up costs more than a small insert; the impression writer commits many)."""
    with _writer_lock(engine).held(), engine.begin() as connection:
        yield connection


class WriterLock:
    """An exclusive `flock` on `<database>-writer.lock`, and a thread lock in front of it (the
    file is opened once per process, and a flock does not exclude the process's own threads)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._thread_lock = threading.Lock()
        self._holder = threading.local()
        self._descriptor: int | None = None
        self._opened_in: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        # A thread that holds it already (a nested write scope) goes on under the outer hold.
        if self._path is None or fcntl is None or getattr(self._holder, "held", False):
            yield
            return
        with self._thread_lock:
            descriptor = self._open()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self._holder.held = True
            try:
                yield
            finally:
                self._holder.held = False
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _open(self) -> int:
        # Opened lazily and again after a fork: a descriptor shared with the parent would share
        # its lock as well.
        if self._descriptor is None or self._opened_in != os.getpid():
            assert self._path is not None
            self._descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._opened_in = os.getpid()
        return self._descriptor


_writer_locks: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()
_writer_locks_guard = threading.Lock()


def _writer_lock(engine: Engine) -> WriterLock:
    with _writer_locks_guard:
        found = _writer_locks.get(engine)
        if found is None:
            found = _writer_locks[engine] = WriterLock(_lock_path(engine))
        return found


def _lock_path(engine: Engine) -> str | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return os.path.abspath(url.database) + "-writer.lock"
