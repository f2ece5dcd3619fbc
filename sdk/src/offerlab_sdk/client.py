"""The storefront client: local assignment on a refreshed snapshot, batched event tracking.

``assign`` and ``offer_for`` never touch the network and never raise into the storefront;
network and data problems are logged and answered with a fallback or the control.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import httpx

from offerlab_sdk.assignment import FALLBACK, NO_EXPERIMENT, Assignment, fallback_for
from offerlab_sdk.evaluate import experiment_at_placement
from offerlab_sdk.events import (
    ClientStats,
    EventPipeline,
    acceptance_event,
    impression_event,
    order_event,
    refund_event,
)
from offerlab_sdk.snapshot import Snapshot, SnapshotError, load_snapshot
from offerlab_sdk.sticky import (
    ContextStickyEvaluator,
    InMemoryStickyStore,
    StickyEvaluator,
    StickyStore,
    context_sticky_evaluator,
    sticky_evaluator,
)
from offerlab_sdk.transport import HttpTransport, TransportError

logger = logging.getLogger("offerlab_sdk")

_Result = TypeVar("_Result")
_NO_ATTRIBUTES: Mapping[str, Any] = {}


class Client:
    """Evaluates offers locally from a snapshot kept fresh in the background.

    >>> client = Client("http://127.0.0.1:9", "sdk-key", timeout=0.2)  # nothing listens there
    >>> client.assign("cart-accessory-cross-sell", "visitor-1").reason
    <Reason.FALLBACK: 'fallback'>
    >>> client.close()
    """

    def __init__(
        self,
        base_url: str,
        sdk_key: str,
        *,
        refresh_interval: float = 30.0,
        timeout: float = 2.0,
        max_queue: int = 10_000,
        flush_interval: float = 1.0,
        batch_size: int = 500,
        sticky_store: StickyStore | None = None,
        transport: httpx.BaseTransport | None = None,
        strict: bool = False,
    ) -> None:
        _check_text("base_url", base_url)
        _check_text("sdk_key", sdk_key)
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        for name, value in (
            ("refresh_interval", refresh_interval),
            ("timeout", timeout),
            ("flush_interval", flush_interval),
        ):
            _check_positive(name, value)
        for name, value in (("max_queue", max_queue), ("batch_size", batch_size)):
            _check_count(name, value)
        self._strict = strict
        self._refresh_interval = float(refresh_interval)
        self._sticky = InMemoryStickyStore() if sticky_store is None else sticky_store
        self._http = HttpTransport(base_url, sdk_key, timeout=timeout, transport=transport)
        self._snapshot: Snapshot | None = None
        # Built per snapshot, off the request path; empty until the first good snapshot.
        self._evaluators: Mapping[str, StickyEvaluator] = {}
        self._installed: _Installed | None = None
        self._etag: str | None = None
        self._refresh_lock = threading.Lock()
        self._closed = threading.Event()
        self.refresh()
        self._events = EventPipeline(
            self._http, max_queue=max_queue, flush_interval=flush_interval, batch_size=batch_size
        )
        self._refresher = threading.Thread(
            target=self._refresh_forever, name="offerlab-refresh", daemon=True
        )
        self._refresher.start()

    @property
    def snapshot(self) -> Snapshot | None:
        """The last good snapshot, or None before the first successful fetch."""
        return self._snapshot

    @property
    def stats(self) -> ClientStats:
        """Event delivery counters (sent, rejected, dropped, failed_attempts, queued)."""
        return self._events.stats

    def refresh(self) -> bool:
        """Fetch the snapshot now; return True when a good snapshot is in place afterwards."""
        return self._guard(self._refresh, default=self._snapshot is not None)

    def assign(
        self,
        experiment_key: str,
        visitor_id: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        ineligible: Collection[str] = (),
    ) -> Assignment:
        """Return the visitor's assignment in an experiment (no network IO, never raises).

        ``attributes`` select the visitor's segment weights and travel with the assignment into
        its events; ``ineligible`` names the variants that must not be served for this request.
        """
        try:
            # One lookup and one call: assign is the hot path of every storefront request.
            evaluate = self._evaluators.get(experiment_key)
            if evaluate is not None and type(visitor_id) is str and visitor_id:
                if attributes is None and not ineligible:
                    return evaluate(visitor_id)
                return self._assign_in_context(experiment_key, visitor_id, attributes, ineligible)
            return self._unassigned(experiment_key, visitor_id)
        except Exception as error:
            key = experiment_key if isinstance(experiment_key, str) else None
            return self._swallow(error, fallback_for(key))

    def offer_for(
        self,
        placement: str,
        visitor_id: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        ineligible: Collection[str] = (),
    ) -> Assignment:
        """Return the visitor's assignment at a placement (no network IO, never raises)."""
        try:
            return self._offer_for(placement, visitor_id, attributes, ineligible)
        except Exception as error:
            return self._swallow(error, FALLBACK)

    def track_impression(
        self, assignment: Assignment, visitor_id: str, attributes: Mapping[str, Any] | None = None
    ) -> bool:
        """Queue an impression once the offer is rendered; no-op (False) outside the experiment."""

        def build() -> dict[str, Any] | None:
            if not _counted(assignment):
                return None
            _check_text("visitor_id", visitor_id)
            return impression_event(
                assignment, visitor_id, _event_attributes(assignment, attributes), **_stamp()
            )

        return self._guard(lambda: self._enqueue(build()), default=False)

    def track_acceptance(
        self,
        assignment: Assignment,
        visitor_id: str,
        value: float,
        currency: str = "EUR",
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue an acceptance of the offer; no-op (False) outside the experiment."""

        def build() -> dict[str, Any] | None:
            if not _counted(assignment):
                return None
            _check_text("visitor_id", visitor_id)
            return acceptance_event(
                assignment,
                visitor_id,
                _event_attributes(assignment, attributes),
                value=_money(value),
                currency=_currency(currency),
                **_stamp(),
            )

        return self._guard(lambda: self._enqueue(build()), default=False)

    def track_order(
        self,
        visitor_id: str,
        order_id: str,
        value: float,
        currency: str = "EUR",
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue an order placed by the visitor (revenue for AOV and revenue per visitor)."""
        return self._track_order_money(
            order_event, visitor_id, order_id, value, currency, attributes
        )

    def track_refund(
        self,
        visitor_id: str,
        order_id: str,
        value: float,
        currency: str = "EUR",
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue a refund of ``value`` on an order (net revenue and the refund-rate guardrail)."""
        return self._track_order_money(
            refund_event, visitor_id, order_id, value, currency, attributes
        )

    def _track_order_money(
        self,
        make_event: Callable[..., dict[str, Any]],
        visitor_id: str,
        order_id: str,
        value: float,
        currency: str,
        attributes: Mapping[str, Any] | None,
    ) -> bool:
        def build() -> dict[str, Any]:
            _check_text("visitor_id", visitor_id)
            _check_text("order_id", order_id)
            return make_event(
                visitor_id,
                _attributes(attributes),
                order_id=order_id,
                value=_money(value),
                currency=_currency(currency),
                **_stamp(),
            )

        return self._guard(lambda: self._enqueue(build()), default=False)

    def flush(self, timeout: float = 5.0) -> bool:
        """Send queued events now; return True when all were settled within ``timeout``."""
        return self._guard(lambda: self._events.flush(timeout), default=False)

    def close(self, timeout: float = 3.0) -> None:
        """Deliver what can be delivered within ``timeout`` seconds, then stop the threads."""
        if self._closed.is_set():
            return
        deadline = time.monotonic() + max(timeout, 0.0)
        self._events.flush(max(deadline - time.monotonic(), 0.0) * 0.8)
        self._closed.set()
        stopped = self._events.stop(deadline - time.monotonic())
        self._refresher.join(max(deadline - time.monotonic(), 0.0))
        if stopped and not self._refresher.is_alive():
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _unassigned(self, experiment_key: str, visitor_id: str) -> Assignment:
        _check_text("experiment_key", experiment_key)
        _check_text("visitor_id", visitor_id)
        return fallback_for(experiment_key)

    def _assign_in_context(
        self,
        experiment_key: str,
        visitor_id: str,
        attributes: Mapping[str, Any] | None,
        ineligible: Collection[str],
    ) -> Assignment:
        installed = self._installed
        evaluate = None if installed is None else installed.in_context.get(experiment_key)
        if evaluate is None:  # a refresh removed the experiment meanwhile
            return fallback_for(experiment_key)
        return evaluate(visitor_id, attributes, ineligible)

    def _offer_for(
        self,
        placement: str,
        visitor_id: str,
        attributes: Mapping[str, Any] | None,
        ineligible: Collection[str],
    ) -> Assignment:
        _check_text("placement", placement)
        _check_text("visitor_id", visitor_id)
        installed = self._installed
        if installed is None:
            return FALLBACK
        experiment = experiment_at_placement(installed.snapshot, placement, visitor_id)
        if experiment is None:
            return NO_EXPERIMENT
        if attributes is None and not ineligible:
            return installed.evaluators[experiment.key](visitor_id)
        return installed.in_context[experiment.key](visitor_id, attributes, ineligible)

    def _refresh(self) -> bool:
        with self._refresh_lock:
            try:
                response = self._http.fetch_snapshot(self._etag if self._snapshot else None)
            except TransportError as error:
                logger.warning(
                    "offerlab: snapshot fetch failed, keeping the current one: %s", error
                )
                return self._snapshot is not None
            if response.status == 304 and self._snapshot is not None:
                return True
            if response.status != 200 or response.body is None:
                logger.warning("offerlab: snapshot fetch answered %d", response.status)
                return self._snapshot is not None
            self._install(load_snapshot(response.body), response.etag)
            return True

    def _install(self, snapshot: Snapshot, etag: str | None) -> None:
        compiled_by_key = snapshot.compiled_by_key
        evaluators = {
            key: sticky_evaluator(self._sticky, compiled)
            for key, compiled in compiled_by_key.items()
        }
        in_context = {
            key: context_sticky_evaluator(self._sticky, compiled)
            for key, compiled in compiled_by_key.items()
        }
        # offer_for reads the snapshot and its evaluators from one consistent object.
        self._installed = _Installed(snapshot, evaluators, in_context)
        self._snapshot = snapshot
        self._evaluators = evaluators
        self._etag = etag

    def _refresh_forever(self) -> None:
        while not self._closed.wait(self._refresh_interval):
            self.refresh()

    def _enqueue(self, event: dict[str, Any] | None) -> bool:
        if event is None:
            return False
        if self._closed.is_set():
            logger.warning("offerlab: event tracked after close() was dropped")
            return False
        return self._events.enqueue(event)

    def _guard(self, action: Callable[[], _Result], *, default: _Result) -> _Result:
        try:
            return action()
        except Exception as error:
            return self._swallow(error, default)

    def _swallow(self, error: Exception, default: _Result) -> _Result:
        """Log ``error`` and answer ``default``; in strict mode re-raise it instead."""
        if isinstance(error, SnapshotError):
            logger.error(
                "offerlab: invalid snapshot rejected, keeping the last good one: %s", error
            )
        else:
            logger.error("offerlab: SDK call failed, answering %r", default, exc_info=error)
        if self._strict:
            raise error
        return default


class _Installed(NamedTuple):
    snapshot: Snapshot
    evaluators: Mapping[str, StickyEvaluator]
    in_context: Mapping[str, ContextStickyEvaluator]


def _counted(assignment: Assignment) -> bool:
    if not isinstance(assignment, Assignment):
        raise TypeError(f"assignment must be an Assignment, got {type(assignment).__name__}")
    return assignment.in_experiment


def _stamp() -> dict[str, str]:
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


def _attributes(attributes: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if attributes is None:
        return _NO_ATTRIBUTES
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a mapping, got {type(attributes).__name__}")
    copied = dict(attributes)
    json.dumps(copied, allow_nan=False)
    return copied


def _event_attributes(
    assignment: Assignment, attributes: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """The attributes given to ``track_*``, else those the assignment was evaluated with."""
    return _attributes(assignment.attributes if attributes is None else attributes)


def _money(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    return float(value)


def _currency(currency: str) -> str:
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise ValueError(f"currency must be a 3-letter ISO 4217 code, got {currency!r}")
    return currency.upper()


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
