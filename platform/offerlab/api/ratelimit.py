"""Per-key rate limits on the storefront's hot endpoints, answered with 429 and Retry-After.

The counting is the `limits` package's (the library Flask-Limiter is built on), fixed windows per
endpoint and API key, in the storage named by `OFFERLAB_RATE_LIMIT_STORAGE`: `memory://` counts per
process, `redis://...` shares the counters between workers. Flask-Limiter itself is not used on
this path: it checked every limit twice per request (its `before_request` hook and its decorator)
and wrote headers into every response, about a third of an assign's time.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from flask import Flask, Response, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from offerlab.api.auth import presented_secret
from offerlab.api.problems import problem
from offerlab.settings import Settings

log = logging.getLogger(__name__)

LIMITED_ENDPOINTS = {
    "storefront.events": "rate_limit_events",
    "storefront.assign": "rate_limit_assign",
}
MEMORY_SWEEP_SECONDS = 1.0
STORAGE_WARNING_SECONDS = 10.0

View = Callable[..., Any]


class SweptMemoryStorage(MemoryStorage):
    """The `limits` memory storage, sweeping expired counters inline about once a second.

    The parent sweeps from a new `threading.Timer` 10 ms after a hit whenever none is pending,
    which under load starts a thread every few requests, and `Thread.start()` waits until the new
    thread holds the GIL (milliseconds when the worker's other threads are busy). Reads already
    ignore an expired counter, so the sweep only frees memory and can run less often.
    """

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self._sweep_lock = threading.Lock()
        self._next_sweep = time.monotonic() + MEMORY_SWEEP_SECONDS

    # Replaces MemoryStorage.__schedule_expiry (a private name, hence the mangled spelling);
    # tests/service/test_rate_limits.py fails if a new release of `limits` stops calling it.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + MEMORY_SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweep_lock.release()


def rate_limit_storage(uri: str) -> Storage:
    """The counters' storage for `uri` (memory:// in process, redis://... shared)."""
    if uri.partition("://")[0] == "memory":
        return SweptMemoryStorage(uri, wrap_exceptions=True)
    return storage_from_string(uri, wrap_exceptions=True)  # type: ignore[return-value]


def rate_limit_key() -> str:
    """The caller's API key (hashed, never stored in clear), or its address when it has none."""
    secret = presented_secret()
    if secret:
        return "key:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


class RateLimits:
    """Fixed-window limits per endpoint and caller over one storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._limiter = FixedWindowRateLimiter(storage)
        self._warned_at = -math.inf

    def limited(self, scope: str, items: Sequence[RateLimitItem]) -> Callable[[View], View]:
        """Wrap a view so a caller over any of `items` in `scope` gets 429 instead."""

        def decorate(view: View) -> View:
            @wraps(view)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                refused = self.refusal(scope, items, rate_limit_key())
                return refused if refused is not None else view(*args, **kwargs)

            return wrapped

        return decorate

    def refusal(self, scope: str, items: Sequence[RateLimitItem], key: str) -> Response | None:
        """Count one hit of `key`; the 429 answer when it is over a limit, else None."""
        try:
            for item in items:
                if not self._limiter.hit(item, scope, key):
                    return _too_many_requests(item, self._retry_after(item, scope, key))
        except StorageError as error:
            self._warn_storage_down(error)  # fail open: a limiter outage must not stop checkouts
        return None

    def _retry_after(self, item: RateLimitItem, scope: str, key: str) -> int:
        reset_at, _remaining = self._limiter.get_window_stats(item, scope, key)
        return max(1, math.ceil(reset_at - time.time()))

    def _warn_storage_down(self, error: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= STORAGE_WARNING_SECONDS:
            self._warned_at = now
            log.warning("rate limits not enforced, their storage failed: %s", error)


def _too_many_requests(item: RateLimitItem, retry_after: int) -> Response:
    response = problem(
        429,
        "Too Many Requests",
        f"this key is over its limit of {item}; retry in {retry_after} s",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_rate_limits(app: Flask, settings: Settings) -> RateLimits:
    """Limit events and assign per key; the limits and their storage come from the settings."""
    limits = RateLimits(rate_limit_storage(settings.rate_limit_storage))
    for endpoint, setting in LIMITED_ENDPOINTS.items():
        text = getattr(settings, setting)
        if text:
            view = app.view_functions[endpoint]
            app.view_functions[endpoint] = limits.limited(endpoint, parse_many(text))(view)
    return limits
