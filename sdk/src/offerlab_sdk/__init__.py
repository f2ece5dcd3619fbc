"""offerlab storefront SDK: local offer assignment and batched event tracking.

Importing this package is cheap and side-effect free: the HTTP client module is only loaded
when ``Client`` is first used, so the service can import ``offerlab_sdk.bucketing`` and
``offerlab_sdk.evaluate`` without it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from offerlab_sdk.assignment import Assignment, Reason
from offerlab_sdk.snapshot import Snapshot, SnapshotError
from offerlab_sdk.sticky import InMemoryStickyStore, StickyStore

if TYPE_CHECKING:
    from offerlab_sdk.client import Client
    from offerlab_sdk.events import ClientStats

__all__ = [
    "Assignment",
    "Client",
    "ClientStats",
    "InMemoryStickyStore",
    "Reason",
    "Snapshot",
    "SnapshotError",
    "StickyStore",
    "__version__",
]

logging.getLogger("offerlab_sdk").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    if name == "Client":
        from offerlab_sdk.client import Client

        return Client
    if name == "ClientStats":
        from offerlab_sdk.events import ClientStats

        return ClientStats
    raise AttributeError(f"module 'offerlab_sdk' has no attribute {name!r}")
