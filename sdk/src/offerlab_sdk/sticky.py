"""Sticky assignment stores: remember a visitor's variant across bandit re-weighting."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from offerlab_sdk.assignment import Assignment

if TYPE_CHECKING:
    from offerlab_sdk.evaluate import CompiledExperiment

DEFAULT_MAX_ENTRIES = 100_000

StickyEvaluator = Callable[[str], Assignment]
"""One experiment's evaluator behind a sticky store: visitor_id -> assignment."""

ContextStickyEvaluator = Callable[[str, Mapping[str, Any] | None, Collection[str]], Assignment]
"""The same for requests with context: visitor_id, attributes, ineligible -> assignment."""


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
    used half is dropped in place, so the dict of an experiment lives as long as the store and
    the client's evaluators can hold it directly (``sticky_evaluator``).
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 2:
            raise ValueError(f"max_entries must be an integer >= 2, got {max_entries!r}")
        self._max_entries = max_entries
        self._by_experiment: dict[str, dict[str, str]] = {}

    # No lock: every dict operation here is atomic under the GIL; two evictions racing each
    # other can at worst drop a few more visitors than half, never grow past the bound.
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
        variants = self._variants_of(experiment)
        variants[visitor_id] = variant
        if len(variants) > self._max_entries:
            _evict_least_recent_half(variants, self._max_entries)

    def __len__(self) -> int:
        """Return the number of remembered (experiment, visitor) pairs."""
        return sum(len(variants) for variants in list(self._by_experiment.values()))

    def evaluator(self, experiment: CompiledExperiment) -> StickyEvaluator:
        """Return ``experiment``'s evaluator with this store's get/set semantics inlined."""
        variants = self._variants_of(experiment.key)
        take_out = variants.pop
        evaluate = experiment.evaluate
        sticky = dict(experiment.sticky)
        max_entries = self._max_entries

        # get + evaluate + set in one frame: this runs on every storefront request.
        def evaluate_sticky(visitor_id: str) -> Assignment:
            remembered = take_out(visitor_id, None)
            if remembered is not None:
                variants[visitor_id] = remembered  # most recently used goes last
                assignment = sticky.get(remembered)
                if assignment is not None:
                    return assignment
            assignment = evaluate(visitor_id)
            if assignment.in_experiment:
                variants[visitor_id] = assignment.variant  # type: ignore[assignment]
                if len(variants) > max_entries:
                    _evict_least_recent_half(variants, max_entries)
            return assignment

        return evaluate_sticky

    def _variants_of(self, experiment: str) -> dict[str, str]:
        variants = self._by_experiment.get(experiment)
        if variants is None:
            variants = self._by_experiment.setdefault(experiment, {})
        return variants


def sticky_evaluator(store: StickyStore, experiment: CompiledExperiment) -> StickyEvaluator:
    """Return ``experiment``'s evaluator behind ``store``: remembered visitors keep their variant.

    A remembered variant that the experiment no longer serves is ignored, and only assignments
    in the experiment are remembered.
    """
    if not experiment.context_free:
        in_context = context_sticky_evaluator(store, experiment)
        return lambda visitor_id: in_context(visitor_id, None, ())
    if type(store) is InMemoryStickyStore:  # a subclass may override get/set: no shortcut
        return store.evaluator(experiment)
    return _store_evaluator(store, experiment)


def context_sticky_evaluator(
    store: StickyStore, experiment: CompiledExperiment
) -> ContextStickyEvaluator:
    """Return ``experiment``'s request-context evaluator behind ``store``.

    A remembered variant is served (reason ``sticky``, its probability for this request) while
    it is eligible with a positive weight for the request. If it is only ineligible for this
    request, an eligible variant is served for this request alone and the store keeps the
    remembered one; if the experiment no longer serves it to the visitor at all, the fresh
    assignment replaces it, as without context.
    """
    key, context = experiment.key, experiment.in_context

    def evaluate_sticky(
        visitor_id: str, attributes: Mapping[str, Any] | None, ineligible: Collection[str]
    ) -> Assignment:
        remembered = store.get(key, visitor_id)
        if remembered is not None:
            resumed = context.resume(remembered, visitor_id, attributes, ineligible)
            if resumed is not None:
                return resumed
            if ineligible and context.resume(remembered, visitor_id, attributes) is not None:
                return context.evaluate(visitor_id, attributes, ineligible)
        assignment = context.evaluate(visitor_id, attributes, ineligible)
        if assignment.in_experiment:
            store.set(key, visitor_id, assignment.variant)  # type: ignore[arg-type]
        return assignment

    return evaluate_sticky


def _store_evaluator(store: StickyStore, experiment: CompiledExperiment) -> StickyEvaluator:
    key, evaluate, sticky = experiment.key, experiment.evaluate, experiment.sticky

    def evaluate_sticky(visitor_id: str) -> Assignment:
        remembered = store.get(key, visitor_id)
        if remembered is not None:
            assignment = sticky.get(remembered)
            if assignment is not None:
                return assignment
        assignment = evaluate(visitor_id)
        if assignment.in_experiment:
            store.set(key, visitor_id, assignment.variant)  # type: ignore[arg-type]
        return assignment

    return evaluate_sticky


def _evict_least_recent_half(variants: dict[str, str], max_entries: int) -> None:
    # In place, so holders of ``variants`` keep a live dict; pop(..., None) tolerates a
    # concurrent eviction or read having taken the same visitor out first.
    stale = list(itertools.islice(variants, len(variants) - max_entries // 2))
    for visitor_id in stale:
        variants.pop(visitor_id, None)
