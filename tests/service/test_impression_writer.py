"""The group commit of HTTP assign impressions, on SQLite and PostgreSQL: concurrent requests
share a transaction, each is released only after its row is committed, and a bad row fails
only its own request."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

CHECKOUT = "checkout-protection-plan-upsell"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def impression(experiment_id: int, visitor: str) -> dict:
    from offerlab.services.ingest import event_row

    return event_row(
        event_id=f"assign-{visitor}",
        kind="impression",
        visitor_id=visitor,
        timestamp=NOW,
        received_at=NOW,
        experiment_id=experiment_id,
        variant_key="price-29",
        allocation_version=1,
        probability=0.33,
    )


def checkout_id(sessions) -> int:  # type: ignore[no-untyped-def]
    from offerlab.storage import experiments as store

    with sessions() as session:
        return int(store.find_experiment_id(session, CHECKOUT))


def stored_visitors(sessions) -> set[str]:  # type: ignore[no-untyped-def]
    from offerlab.storage.tables import ExposureRow

    with sessions() as session:
        return {row.visitor_id for row in session.query(ExposureRow)}


def write_all(writer, rows) -> dict[str, BaseException | None]:  # type: ignore[no-untyped-def]
    outcomes: dict[str, BaseException | None] = {}

    def write(row: dict) -> None:
        try:
            writer.write(row)
            outcomes[row["visitor_id"]] = None
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcomes[row["visitor_id"]] = error

    threads = [threading.Thread(target=write, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_impressions_are_committed_together(applied, sessions):  # type: ignore[no-untyped-def]
    from offerlab.services.impressions import ImpressionWriter

    class CountingWriter(ImpressionWriter):
        batches: list[int] = []

        def _store(self, batch):  # type: ignore[no-untyped-def]
            if not self.batches:
                # Hold the first transaction until every other request has queued behind it.
                deadline = time.monotonic() + 30
                while len(batch) + self.pending_rows() < 20 and time.monotonic() < deadline:
                    time.sleep(0.01)
            self.batches.append(len(batch))
            super()._store(batch)

    experiment_id = checkout_id(sessions)
    rows = [impression(experiment_id, f"v{n}") for n in range(20)]

    outcomes = write_all(CountingWriter(sessions), rows)

    assert outcomes == {f"v{n}": None for n in range(20)}
    assert stored_visitors(sessions) == {f"v{n}" for n in range(20)}
    # However many made the first transaction, all the others shared the second one.
    assert len(CountingWriter.batches) == 2
    assert sum(CountingWriter.batches) == 20


def test_a_bad_row_fails_only_its_own_request(applied, sessions):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    from offerlab.services.impressions import ImpressionWriter

    experiment_id = checkout_id(sessions)
    good = [impression(experiment_id, f"good-{n}") for n in range(5)]
    bad = impression(experiment_id + 1000, "bad")  # no such experiment: a foreign key error

    outcomes = write_all(ImpressionWriter(sessions), [*good, bad])

    assert isinstance(outcomes.pop("bad"), IntegrityError)
    assert outcomes == {f"good-{n}": None for n in range(5)}
    assert stored_visitors(sessions) == {f"good-{n}" for n in range(5)}


def test_the_writer_thread_ends_when_idle_and_starts_again(applied, sessions):  # type: ignore[no-untyped-def]
    from offerlab.services.impressions import ImpressionWriter

    experiment_id = checkout_id(sessions)
    writer = ImpressionWriter(sessions, idle_seconds=0.05)
    writer.write(impression(experiment_id, "first"))
    deadline = time.monotonic() + 10
    while writer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer._thread is None

    writer.write(impression(experiment_id, "second"))

    assert stored_visitors(sessions) == {"first", "second"}


class _BatchCounting:
    """Wraps a writer's _store to record the size of every transaction."""

    def __init__(self, writer) -> None:  # type: ignore[no-untyped-def]
        self.sizes: list[int] = []
        store = writer._store

        def counted(batch):  # type: ignore[no-untyped-def]
            self.sizes.append(len(batch))
            store(batch)

        writer._store = counted


def test_the_writer_waits_for_announced_requests_to_share_a_transaction(applied, sessions):  # type: ignore[no-untyped-def]
    from offerlab.services.impressions import ImpressionWriter

    experiment_id = checkout_id(sessions)
    writer = ImpressionWriter(sessions, gather_seconds=10)
    counting = _BatchCounting(writer)
    slow_may_write = threading.Event()
    finished: dict[str, float] = {}

    def slow() -> None:
        with writer.announced():
            slow_may_write.wait(10)
            writer.write(impression(experiment_id, "slow"))
        finished["slow"] = time.monotonic()

    def quick() -> None:
        with writer.announced():
            writer.write(impression(experiment_id, "quick"))
        finished["quick"] = time.monotonic()

    threads = [threading.Thread(target=slow), threading.Thread(target=quick)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert finished == {}  # the quick row waits for the announced slow one
    released = time.monotonic()
    slow_may_write.set()
    for thread in threads:
        thread.join(10)

    assert counting.sizes == [2]
    assert finished["quick"] >= released
    assert stored_visitors(sessions) == {"slow", "quick"}


def test_an_announced_request_that_writes_nothing_is_not_waited_for(applied, sessions):  # type: ignore[no-untyped-def]
    from offerlab.services.impressions import ImpressionWriter

    experiment_id = checkout_id(sessions)
    writer = ImpressionWriter(sessions, gather_seconds=10)
    entered = threading.Event()

    def writes_nothing() -> None:
        with writer.announced():
            entered.set()
            time.sleep(0.3)  # e.g. a visitor outside the experiment's traffic

    thread = threading.Thread(target=writes_nothing)
    thread.start()
    entered.wait(10)
    started = time.monotonic()
    writer.write(impression(experiment_id, "shown"))
    waited = time.monotonic() - started
    thread.join(10)

    assert 0.1 < waited < 5  # released when the other request left, not after gather_seconds
    assert stored_visitors(sessions) == {"shown"}


def test_a_lone_write_is_committed_without_waiting(applied, sessions):  # type: ignore[no-untyped-def]
    from offerlab.services.impressions import ImpressionWriter

    experiment_id = checkout_id(sessions)
    writer = ImpressionWriter(sessions, gather_seconds=10)
    started = time.monotonic()
    with writer.announced():
        writer.write(impression(experiment_id, "alone"))

    assert time.monotonic() - started < 5
    assert stored_visitors(sessions) == {"alone"}
