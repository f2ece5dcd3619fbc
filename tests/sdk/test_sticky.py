"""The default sticky store: bounded, least recently used visitors go first."""

from __future__ import annotations

import threading

import pytest

from offerlab_sdk import InMemoryStickyStore, StickyStore


def test_remembers_per_experiment_and_visitor() -> None:
    store = InMemoryStickyStore()
    store.set("cart-accessory-cross-sell", "visitor-1", "case")
    store.set("checkout-warranty-price", "visitor-1", "warranty-39")
    assert store.get("cart-accessory-cross-sell", "visitor-1") == "case"
    assert store.get("checkout-warranty-price", "visitor-1") == "warranty-39"
    assert store.get("cart-accessory-cross-sell", "visitor-2") is None
    assert isinstance(store, StickyStore)


def test_never_exceeds_its_bound_and_keeps_recently_read_visitors() -> None:
    store = InMemoryStickyStore(max_entries=100)
    store.set("e", "loyal", "case")
    for n in range(1_000):
        store.set("e", f"visitor-{n}", "case")
        assert store.get("e", "loyal") == "case"
        assert len(store) <= 100
    assert store.get("e", "visitor-0") is None
    assert store.get("e", "visitor-999") == "case"


def test_concurrent_use_stays_bounded_and_consistent() -> None:
    store = InMemoryStickyStore(max_entries=1_000)

    def work(thread: int) -> None:
        for n in range(5_000):
            store.set("e", f"{thread}-{n}", str(thread))
            assert store.get("e", f"{thread}-{n}") in (str(thread), None)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) <= 1_000


@pytest.mark.parametrize("bound", [0, 1, -5, 2.5, True])
def test_rejects_a_meaningless_bound(bound: object) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        InMemoryStickyStore(bound)  # type: ignore[arg-type]
