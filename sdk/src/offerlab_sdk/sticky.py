"""Sticky assignment stores: remember a visitor's variant across bandit re-weighting."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol, runtime_checkable

DEFAULT_MAX_ENTRIES = 100_000


@runtime_checkable
class StickyStore(Protocol):
    """Where the client remembers (experiment, visitor_id) -> variant key."""

    def get(self, experiment: str, visitor_id: str) -> str | None:
        """Return the remembered variant key, or None."""
        ...

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        """Remember ``variant`` for the visitor in ``experiment``."""
        ...


class InMemoryStickyStore:
    """A thread-safe, bounded LRU sticky store for a single storefront process."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive integer, got {max_entries!r}")
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, experiment: str, visitor_id: str) -> str | None:
        """Return the remembered variant key, or None."""
        key = (experiment, visitor_id)
        with self._lock:
            variant = self._entries.get(key)
            if variant is not None:
                self._entries.move_to_end(key)
            return variant

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        """Remember ``variant``, evicting the least recently used entry when full."""
        key = (experiment, visitor_id)
        with self._lock:
            self._entries[key] = variant
            self._entries.move_to_end(key)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
