"""`offerlab bandits update`: a new allocation epoch for the cart bandit, when due or forced."""

from __future__ import annotations

import json
import re

import pytest

CART = "cart-accessory-cross-sell"
CART_VARIANTS = ("no-offer", "case", "screen-protector", "fast-charger")
MIN_SHARE = 0.1  # bandit.min_share of the cart experiment
VERSION_LINE = re.compile(
    rf"{CART} v(?P<version>\d+): "
    + ", ".join(rf"{variant} (?P<w{i}>\d+\.\d)%" for i, variant in enumerate(CART_VARIANTS))
)


def allocation_history(invoke) -> list[dict]:  # type: ignore[no-untyped-def]
    result = invoke("report", CART, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["allocation_history"]


def test_right_after_apply_no_bandit_is_due(applied):
    result = applied("bandits", "update")

    assert result.exit_code == 0, result.output
    assert result.stdout == "no bandit was due\n"
    assert len(allocation_history(applied)) == 1


def test_forced_update_prints_and_stores_a_new_epoch_of_the_cart_bandit(applied):
    result = applied("bandits", "update", "--force", "--seed", "1")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1  # the two other examples use fixed allocations
    match = VERSION_LINE.fullmatch(lines[0])
    assert match, lines[0]
    assert match["version"] == "2"
    shares = [float(match[f"w{i}"]) / 100 for i in range(len(CART_VARIANTS))]
    assert sum(shares) == pytest.approx(1.0, abs=0.002)
    assert min(shares) >= MIN_SHARE - 0.0005
    history = allocation_history(applied)
    assert [epoch["version"] for epoch in history] == [1, 2]
    assert [epoch["segment_weights"] for epoch in history] == [None, None]  # not contextual
    stored = history[-1]["weights"]
    assert list(stored) == list(CART_VARIANTS)
    assert list(stored.values()) == pytest.approx(shares, abs=0.0005 + 1e-9)


def test_the_same_seed_gives_the_same_weights(applied):
    first = applied("bandits", "update", "--force", "--seed", "1").stdout
    second = applied("bandits", "update", "--force", "--seed", "1").stdout

    assert first.startswith(f"{CART} v2: ")
    assert second == first.replace(" v2: ", " v3: ")


def test_a_paused_bandit_is_not_updated_even_when_forced(applied):
    assert applied("status", CART, "paused").exit_code == 0

    result = applied("bandits", "update", "--force", "--seed", "1")

    assert result.exit_code == 0, result.output
    assert result.stdout == "no bandit was due\n"
    assert len(allocation_history(applied)) == 1
