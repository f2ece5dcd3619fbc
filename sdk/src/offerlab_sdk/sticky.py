"""Sticky assignment stores: remember a visitor's variant across bandit re-weighting."""

from __future__ import annotations

import itertools
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
    """A bounded, thread-safe in-process sticky store with least-recently-used eviction.

    Each experiment keeps at most ``max_entries`` visitors in a dict ordered by last use (a read
    moves the visitor to the end). When an experiment exceeds the bound, its least recently
    used half is dropped in one C-level rebuild, which keeps ``get``/``set`` at plain-dict speed
    on the assignment path.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 2:
            raise ValueError(f"max_entries must be an integer >= 2, got {max_entries!r}")
        self._max_entries = max_entries
        self._by_experiment: dict[str, dict[str, str]] = {}

    # No lock: every dict operation here is atomic under the GIL; a write racing an eviction
    # rebuild can at worst land in the dict being replaced, i.e. be forgotten early.
    def get(self, experiment: str, visitor_id: str) -> str | None:
        """Return the remembered variant key, or None."""
        variants = self._by_experiment.get(experiment)
        if variants is None:
            return None
        variant = variants.pop(visitor_id, None)
        if variant is not None:
            variants[visitor_id] = variant
        return variant

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        """Remember ``variant`` for the visitor in ``experiment``."""
        variants = self._by_experiment.get(experiment)
        if variants is None:
            variants = self._by_experiment[experiment] = {}
        variants[visitor_id] = variant
        if len(variants) > self._max_entries:
            self._evict_half(experiment, variants)

    def __len__(self) -> int:
        """Return the number of remembered (experiment, visitor) pairs."""
        return sum(len(variants) for variants in self._by_experiment.values())

    def _evict_half(self, experiment: str, variants: dict[str, str]) -> None:
        keep = self._max_entries // 2
        self._by_experiment[experiment] = dict(
            itertools.islice(variants.items(), len(variants) - keep, None)
        )
