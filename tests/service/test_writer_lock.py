"""The SQLite writer lock: writers of every process and thread take turns, nested scopes go on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from sqlalchemy import text

from offerlab.storage.db import make_engine, make_sessionmaker, write_scope
from offerlab.storage.migrate import upgrade


def _sessions(path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{path}"
    upgrade(url)
    return make_sessionmaker(make_engine(url))


def test_a_writer_in_another_process_is_waited_for(tmp_path: Path) -> None:
    database = tmp_path / "offerlab.db"
    sessions = _sessions(database)
    holding = tmp_path / "holding"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time, pathlib
                from offerlab.storage.db import make_engine, make_sessionmaker, write_scope
                sessions = make_sessionmaker(make_engine("sqlite:///{database}"))
                with write_scope(sessions):
                    pathlib.Path("{holding}").touch()
                    time.sleep(1.0)
                """
            ),
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while not holding.exists():
            assert time.monotonic() < deadline, "the other process never took the lock"
            time.sleep(0.01)
        started = time.monotonic()
        with write_scope(sessions):
            waited = time.monotonic() - started
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
    assert 0.5 < waited < 5.0


def test_threads_of_one_process_write_in_turn(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path / "offerlab.db")
    inside = 0
    most_inside = 0
    guard = threading.Lock()

    def write(visitor: int) -> None:
        nonlocal inside, most_inside
        with write_scope(sessions) as session:
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            session.execute(
                text("INSERT INTO rollup_marks (experiment_id, visitor_id) VALUES (NULL, :v)"),
                {"v": f"v{visitor}"},
            )
            time.sleep(0.01)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside == 1
    with write_scope(sessions) as session:
        assert session.scalar(text("SELECT COUNT(*) FROM rollup_marks")) == 8


def test_a_nested_write_scope_does_not_wait_for_itself(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path / "offerlab.db")
    finished = threading.Event()

    def nested() -> None:
        with write_scope(sessions), write_scope(sessions):
            finished.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    assert finished.wait(10)
    # And the lock is free again afterwards.
    with write_scope(sessions) as session:
        assert session.scalar(text("SELECT 1")) == 1


def test_the_lock_file_sits_beside_a_file_database_only(tmp_path: Path) -> None:
    with write_scope(_sessions(tmp_path / "offerlab.db")):
        pass
    assert (tmp_path / "offerlab.db-writer.lock").exists()
    with write_scope(make_sessionmaker(make_engine("sqlite://"))) as session:
        assert session.scalar(text("SELECT 1")) == 1
