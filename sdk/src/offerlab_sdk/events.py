"""Event wire format and the bounded queue + background sender that delivers it.

Events get their ``event_id`` and ``timestamp`` when the storefront calls ``track_*``; a retry
re-sends the very same objects, and the service is idempotent on ``event_id``.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from offerlab_sdk.assignment import Assignment
from offerlab_sdk.transport import EventsResponse, HttpTransport, TransportError

logger = logging.getLogger("offerlab_sdk")

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
_RETRYABLE_STATUSES = frozenset({408, 429})

Event = dict[str, Any]


@dataclass(frozen=True)
class ClientStats:
    """Delivery counters: ``sent`` acknowledged by the service (accepted or duplicate),
    ``rejected`` refused by it, ``dropped`` because the queue was full, ``failed_attempts``
    POSTs that must be retried, ``queued`` still waiting."""

    sent: int = 0
    rejected: int = 0
    dropped: int = 0
    failed_attempts: int = 0
    queued: int = 0


def impression_event(
    assignment: Assignment,
    visitor_id: str,
    attributes: Mapping[str, Any],
    *,
    event_id: str,
    timestamp: str,
) -> Event:
    """Return the wire object of an impression (the offer was rendered to the visitor).

    ``eligible`` is added only when the request narrowed the variants, ``measurement`` only
    when the visitor is in the measurement slice.
    """
    event: Event = {
        "event_id": event_id,
        "type": "impression",
        "experiment": assignment.experiment,
        "variant": assignment.variant,
        "visitor_id": visitor_id,
        "timestamp": timestamp,
        "allocation_version": assignment.allocation_version,
        "probability": assignment.probability,
        "attributes": dict(attributes),
    }
    if assignment.eligible is not None:
        event["eligible"] = list(assignment.eligible)
    if assignment.measurement:
        event["measurement"] = True
    return event


def acceptance_event(
    assignment: Assignment,
    visitor_id: str,
    attributes: Mapping[str, Any],
    *,
    value: float,
    currency: str,
    event_id: str,
    timestamp: str,
) -> Event:
    """Return the wire object of an acceptance (the visitor took the offer)."""
    event = impression_event(
        assignment, visitor_id, attributes, event_id=event_id, timestamp=timestamp
    )
    event.update(type="acceptance", value=value, currency=currency)
    return event


def order_event(
    visitor_id: str,
    attributes: Mapping[str, Any],
    *,
    order_id: str,
    value: float,
    currency: str,
    event_id: str,
    timestamp: str,
) -> Event:
    """Return the wire object of an order placed by the visitor."""
    return {
        "event_id": event_id,
        "type": "order",
        "visitor_id": visitor_id,
        "order_id": order_id,
        "value": value,
        "currency": currency,
        "timestamp": timestamp,
        "attributes": dict(attributes),
    }


def refund_event(
    visitor_id: str,
    attributes: Mapping[str, Any],
    *,
    order_id: str,
    value: float,
    currency: str,
    event_id: str,
    timestamp: str,
) -> Event:
    """Return the wire object of a refund (``value`` refunded) on an earlier order."""
    event = order_event(
        visitor_id,
        attributes,
        order_id=order_id,
        value=value,
        currency=currency,
        event_id=event_id,
        timestamp=timestamp,
    )
    event["type"] = "refund"
    return event


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Return the delay before retry number ``attempt`` (1-based): exponential, equal jitter."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class EventPipeline:
    """A bounded queue drained in batches by one daemon thread; the only sender, so no
    event is sent twice once acknowledged."""

    def __init__(
        self, transport: HttpTransport, *, max_queue: int, flush_interval: float, batch_size: int
    ) -> None:
        self._transport = transport
        self._max_queue = max_queue
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._queue: deque[Event] = deque()
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self._flush_waiters = 0
        self._first_queued_at = 0.0
        self._counts = {"sent": 0, "rejected": 0, "dropped": 0, "failed_attempts": 0}
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name="offerlab-events", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> ClientStats:
        """Return a consistent copy of the delivery counters."""
        with self._condition:
            return ClientStats(**self._counts, queued=len(self._queue))

    def enqueue(self, event: Event) -> bool:
        """Queue ``event``; when the queue is full drop it (the newest) and count it."""
        with self._condition:
            if self._stopping.is_set() or len(self._queue) >= self._max_queue:
                self._counts["dropped"] += 1
                return False
            if not self._queue:
                self._first_queued_at = time.monotonic()
                self._condition.notify_all()
            self._queue.append(event)
            if len(self._queue) == self._batch_size:
                self._condition.notify_all()
            return True

    def flush(self, timeout: float) -> bool:
        """Send everything queued now; return True when the queue emptied within ``timeout``."""
        with self._condition:
            self._flush_waiters += 1
            self._condition.notify_all()
            try:
                return self._condition.wait_for(lambda: not self._queue, timeout=max(timeout, 0))
            finally:
                self._flush_waiters -= 1

    def stop(self, timeout: float) -> bool:
        """Stop the sender thread; return True when it ended within ``timeout``."""
        self._stopping.set()
        with self._condition:
            self._condition.notify_all()
        self._thread.join(max(timeout, 0))
        if self._queue:
            logger.warning("offerlab: %d events not delivered at close", len(self._queue))
        return not self._thread.is_alive()

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            delay = self._deliver(batch, attempt + 1)
            attempt = 0 if delay is None else attempt + 1
            if delay is not None:
                self._stopping.wait(delay)

    def _next_batch(self) -> list[Event]:
        with self._condition:
            while not self._ready_to_send():
                self._condition.wait(self._time_to_deadline())
            if self._stopping.is_set():
                return []
            return list(itertools.islice(self._queue, self._batch_size))

    def _ready_to_send(self) -> bool:
        if self._stopping.is_set():
            return True
        if not self._queue:
            return False
        return (
            len(self._queue) >= self._batch_size
            or self._flush_waiters > 0
            or time.monotonic() >= self._first_queued_at + self._flush_interval
        )

    def _time_to_deadline(self) -> float | None:
        if not self._queue:
            return None
        return max(self._first_queued_at + self._flush_interval - time.monotonic(), 0.0)

    def _deliver(self, batch: list[Event], attempt: int) -> float | None:
        """POST ``batch``; return None when it is settled, else the delay before a retry."""
        try:
            response = self._transport.post_events(batch)
        except TransportError as error:
            logger.warning("offerlab: sending %d events failed: %s", len(batch), error)
            return self._retry_later(attempt, None)
        if 200 <= response.status < 300:
            self._settle(batch, response)
            return None
        if response.status in _RETRYABLE_STATUSES or response.status >= 500:
            logger.warning("offerlab: events endpoint answered %d, will retry", response.status)
            return self._retry_later(attempt, response.retry_after)
        logger.error(
            "offerlab: events endpoint refused a batch of %d with status %d; dropped",
            len(batch),
            response.status,
        )
        self._remove(len(batch), sent=0, rejected=len(batch))
        return None

    def _retry_later(self, attempt: int, retry_after: float | None) -> float:
        with self._condition:
            self._counts["failed_attempts"] += 1
        if retry_after is not None:
            return retry_after
        return backoff_delay(attempt, self._rng)

    def _settle(self, batch: list[Event], response: EventsResponse) -> None:
        rejected = _rejected_entries(response.body)
        for entry in rejected:
            logger.error("offerlab: event rejected by the service, dropped: %s", entry)
        self._remove(len(batch), sent=len(batch) - len(rejected), rejected=len(rejected))

    def _remove(self, count: int, *, sent: int, rejected: int) -> None:
        with self._condition:
            for _ in range(count):
                self._queue.popleft()
            self._counts["sent"] += sent
            self._counts["rejected"] += rejected
            self._condition.notify_all()


def _rejected_entries(body: Any) -> list[Any]:
    if not isinstance(body, Mapping):
        return []
    rejected = body.get("rejected")
    return list(rejected) if isinstance(rejected, list) else []
