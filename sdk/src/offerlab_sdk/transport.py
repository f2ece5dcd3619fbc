"""The only module of the SDK that does network IO (httpx, short timeouts)."""

from __future__ import annotations

import email.utils
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from offerlab_sdk import __version__

SNAPSHOT_PATH = "/api/v1/snapshot"
EVENTS_PATH = "/api/v1/events"
MAX_RETRY_AFTER_SECONDS = 300.0


class TransportError(Exception):
    """The request did not produce an HTTP response (connection refused, timeout, ...)."""


@dataclass(frozen=True)
class SnapshotResponse:
    """The outcome of a snapshot fetch: ``body`` is None when the server answered 304."""

    status: int
    etag: str | None
    body: bytes | None


@dataclass(frozen=True)
class EventsResponse:
    """The outcome of posting one batch of events."""

    status: int
    body: Any
    retry_after: float | None


class HttpTransport:
    """Talks to the offerlab service: fetch the snapshot, post event batches."""

    def __init__(
        self,
        base_url: str,
        sdk_key: str,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={
                "Authorization": f"Bearer {sdk_key}",
                "User-Agent": f"offerlab-sdk-python/{__version__}",
            },
        )

    def fetch_snapshot(self, etag: str | None) -> SnapshotResponse:
        """GET the snapshot, sending ``If-None-Match`` when an ETag is known."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._send("GET", SNAPSHOT_PATH, headers=headers)
        body = None if response.status_code == 304 else response.content
        return SnapshotResponse(response.status_code, response.headers.get("ETag"), body)

    def post_events(self, events: list[dict[str, Any]]) -> EventsResponse:
        """POST one batch ``{"events": [...]}``."""
        response = self._send("POST", EVENTS_PATH, json={"events": events})
        return EventsResponse(
            status=response.status_code,
            body=_json_or_none(response),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, self._base_url + path, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            raise TransportError(f"{method} {path} failed: {error!r}") from error
        except RuntimeError as error:  # the pool was closed by Client.close() meanwhile
            raise TransportError(f"{method} {path} failed: {error!r}") from error


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the delay in seconds asked for by a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    delay = _seconds(value)
    if delay is None:
        delay = _seconds_until(value, time.time() if now is None else now)
    if delay is None:
        return None
    return min(max(delay, 0.0), MAX_RETRY_AFTER_SECONDS)


def _seconds(value: str) -> float | None:
    try:
        delay = float(value.strip())
    except ValueError:
        return None
    return delay if math.isfinite(delay) else None


def _seconds_until(value: str, now: float) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - now


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None
