"""Sticky evaluators: the default store's inlined fast path behaves as the get/set protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from offerlab_sdk import Client, InMemoryStickyStore, Reason
from offerlab_sdk.evaluate import CompiledExperiment
from offerlab_sdk.snapshot import load_snapshot
from offerlab_sdk.sticky import sticky_evaluator

KEY = "cart-accessory-cross-sell"
VISITORS = [f"visitor-{n}" for n in range(2_000)]


class DictStore:
    """A plain get/set store, as a storefront would plug in (Redis, a cookie...)."""

    def __init__(self) -> None:
        self.variants: dict[tuple[str, str], str] = {}
        self.calls = 0

    def get(self, experiment: str, visitor_id: str) -> str | None:
        self.calls += 1
        return self.variants.get((experiment, visitor_id))

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        self.calls += 1
        self.variants[(experiment, visitor_id)] = variant


class CountingStore(InMemoryStickyStore):
    """A subclass that overrides get/set: the client must not bypass them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get(self, experiment: str, visitor_id: str) -> str | None:
        self.calls += 1
        return super().get(experiment, visitor_id)

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        self.calls += 1
        super().set(experiment, visitor_id, variant)


def compiled(helpers: Any, **options: Any) -> CompiledExperiment:
    document = helpers.snapshot(helpers.experiment(**options))
    return load_snapshot(json.dumps(document)).compiled_by_key[KEY]


def outcomes(evaluate: Callable[[str], Any]) -> list[tuple[Any, ...]]:
    return [
        (a.variant, a.reason, a.in_experiment, a.allocation_version, a.probability)
        for a in map(evaluate, VISITORS)
    ]


def test_default_store_fast_path_answers_as_the_get_set_protocol(helpers: Any) -> None:
    fast_store, plain_store = InMemoryStickyStore(), DictStore()
    before = compiled(helpers, weights=(3334, 3333, 3333))
    first = outcomes(sticky_evaluator(fast_store, before))
    assert first == outcomes(sticky_evaluator(plain_store, before))
    assert {row[1] for row in first} == {Reason.IN_EXPERIMENT}
    # Re-weighted and one variant dropped: kept variants stay sticky, the dropped one re-buckets.
    after = compiled(helpers, weights=(8000, 2000, 0), allocation_version=2)
    fast, plain = sticky_evaluator(fast_store, after), sticky_evaluator(plain_store, after)
    again = outcomes(fast)
    assert again == outcomes(plain)
    for (variant, *_), (variant_again, reason, *rest) in zip(first, again, strict=True):
        if variant == "charger":
            assert (variant_again, reason) != ("charger", Reason.STICKY)
        else:
            assert (variant_again, reason, rest[1]) == (variant, Reason.STICKY, 2)
    assert sum(row[0] == "charger" for row in first) > 500, "the test needs dropped visitors"


@pytest.mark.parametrize(
    ("options", "reason"),
    [({"traffic_bp": 0}, Reason.OUTSIDE_TRAFFIC), ({"status": "paused"}, Reason.NOT_RUNNING)],
)
def test_only_assignments_in_the_experiment_are_remembered(
    helpers: Any, options: dict[str, Any], reason: Reason
) -> None:
    store = InMemoryStickyStore()
    evaluate = sticky_evaluator(store, compiled(helpers, **options))
    assert {row[1] for row in outcomes(evaluate)} == {reason}
    assert len(store) == 0


def test_fast_path_and_get_set_share_one_bounded_lru_memory(helpers: Any) -> None:
    store = InMemoryStickyStore(max_entries=50)
    evaluate = sticky_evaluator(store, compiled(helpers))
    store.set(KEY, "loyal", "case")
    for visitor_id in VISITORS[:500]:
        evaluate(visitor_id)
        assert evaluate("loyal").reason is Reason.STICKY  # read each time: never evicted
        assert len(store) <= 50
    assert store.get(KEY, "loyal") == "case"
    assert store.get(KEY, VISITORS[0]) is None
    assert store.get(KEY, VISITORS[499]) == evaluate(VISITORS[499]).variant
    store.set(KEY, VISITORS[499], "no-offer")
    assert evaluate(VISITORS[499]).variant == "no-offer"


def test_a_store_subclass_keeps_its_own_get_and_set(helpers: Any) -> None:
    store = CountingStore()
    evaluate = sticky_evaluator(store, compiled(helpers))
    evaluate("visitor-1")
    assert evaluate("visitor-1").reason is Reason.STICKY
    assert store.calls == 3  # get + set, then get


def test_fast_path_stays_bounded_under_threads(helpers: Any) -> None:
    store = InMemoryStickyStore(max_entries=1_000)
    evaluate = sticky_evaluator(store, compiled(helpers, weights=(3334, 3333, 3333)))
    seen: list[set[str | None]] = [set() for _ in range(4)]

    def work(thread: int) -> None:
        for n in range(5_000):
            seen[thread].add(evaluate(f"{thread}-{n % 1_500}").variant)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) <= 1_000
    assert set().union(*seen) == {"no-offer", "case", "charger"}


def test_offer_for_and_assign_share_a_custom_store(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    store = DictStore()
    client = make_client(service.base_url, sticky_store=store)
    first = {v: client.assign(KEY, v).variant for v in VISITORS[:300]}
    service.set_snapshot(
        helpers.snapshot(
            helpers.experiment(weights=(9000, 1000), allocation_version=2), version="v2"
        )
    )
    assert client.refresh() and client.snapshot.snapshot_version == "v2"
    for visitor_id in VISITORS[:300]:
        assignment = client.offer_for("cart", visitor_id)
        assert (assignment.variant, assignment.reason) == (first[visitor_id], Reason.STICKY)
        assert assignment.allocation_version == 2
    assert len(store.variants) == 300


def test_a_visitor_id_that_is_not_valid_utf8_gets_the_fallback(
    service: Any, make_client: Callable[..., Client]
) -> None:
    lone_surrogate = "visitor-\ud800"
    client = make_client(service.base_url)
    assert client.assign(KEY, lone_surrogate).reason is Reason.FALLBACK
    strict = make_client(service.base_url, strict=True)
    with pytest.raises(UnicodeEncodeError):
        strict.assign(KEY, lone_surrogate)
