"""Regenerate the frozen contract vectors in ``vectors/`` (spec_version 1).

Run ``python tests/contract/make_vectors.py`` from the repository root. The expected results are
computed here independently of ``offerlab_sdk``: mmh3 is called directly and positions are exact
``fractions.Fraction`` values compared with the spec's ranges, not the SDK's integer code.
Changing any expected value means changing the spec: bump ``spec_version``. The serving-context
vectors (``serving-v1.json``) come from ``serving_vectors.py`` next to this file.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import mmh3
from serving_vectors import serving_vectors

SPEC_VERSION = 1
SEED = 20261125
POOL_SIZE = 200_000
VECTORS = Path(__file__).resolve().parent / "vectors"

SALTS = ["cart-accessory-cross-sell", "checkout_warranty_price", "PDP-upgrade-2026", "a", "x-1_Y"]
PLACEMENTS = ["product_page", "cart", "checkout", "post_purchase", "email"]
WEIGHT_SETS = [
    [10000],
    [5000, 5000],
    [3334, 3333, 3333],
    [1, 9999],
    [9999, 1],
    [2500, 2500, 2500, 2500],
    [1, 1, 9998],
    [2000, 3000, 1000, 4000],
    [100, 200, 300, 400, 9000],
    [5000, 0, 5000],
    [1, 4999, 1, 4998, 1],
]
TRAFFICS = [10000, 5000, 1, 0, 2500, 9999]
RANGES = [
    [0, 10000],
    [0, 5000],
    [5000, 10000],
    [2500, 7500],
    [0, 1],
    [9999, 10000],
    [3000, 3000],
    [1234, 5678],
]
FIXED_IDS = [
    "visitor-1",
    "42",
    "0",
    "a",
    "550e8400-e29b-41d4-a716-446655440000",
    "VISITOR-1",
    "josé",
    "straße-7",
    "Ærøskøbing",
    "e\u0301",
    "é",
    "ß",
    "顧客-3",
    "訪問者",
    "고객",
    "🛒",
    "user-😀",
    "👩‍👩‍👧",
    "Ω≈ç√",
    "tab\tand space",
    "dot.in.id",
    "slash/in/id",
]


def position(text: str) -> tuple[int, Fraction]:
    """Return (hash, exact position in [0, 1)) of ``text`` per the spec."""
    hash_value = mmh3.hash(text.encode("utf-8"), 0, False)
    return hash_value, Fraction(hash_value, 2**32)


def expected_variant(pos: Fraction, weights_bp: list[int], traffic_bp: int) -> int | None:
    """Index of the variant whose covered range holds ``pos``; None outside traffic."""
    start = Fraction(0)
    for index, weight in enumerate(weights_bp):
        if start <= pos < start + Fraction(traffic_bp * weight, 10**8):
            return index
        start += Fraction(weight, 10**4)
    return None


def expected_in_range(pos: Fraction, range_bp: list[int]) -> bool:
    """Whether ``pos`` lies in [start / 10**4, end / 10**4)."""
    return Fraction(range_bp[0], 10**4) <= pos < Fraction(range_bp[1], 10**4)


def visitor_ids(rng: random.Random) -> list[str]:
    """Fixed ids plus seeded ASCII, non-ASCII and emoji ids."""
    alphabet = "abcdefXYZ019-_é ß顧客😀🛒"
    ids = list(FIXED_IDS)
    ids += [f"visitor-{rng.randrange(10**9)}" for _ in range(40)]
    ids += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(40)]
    ids += [f"{rng.getrandbits(128):032x}" for _ in range(20)]
    return ids


def variant_case(salt: str, visitor_id: str, weights_bp: list[int], traffic_bp: int) -> dict:
    hash_value, pos = position(f"{salt}.{visitor_id}")
    return {
        "salt": salt,
        "visitor_id": visitor_id,
        "weights_bp": weights_bp,
        "traffic_bp": traffic_bp,
        "hash": hash_value,
        "variant_index": expected_variant(pos, weights_bp, traffic_bp),
    }


def placement_case(placement: str, visitor_id: str, range_bp: list[int]) -> dict:
    hash_value, pos = position(f"placement/{placement}.{visitor_id}")
    return {
        "placement": placement,
        "visitor_id": visitor_id,
        "range_bp": range_bp,
        "hash": hash_value,
        "in_range": expected_in_range(pos, range_bp),
    }


def boundaries(weights_bp: list[int], traffic_bp: int) -> list[Fraction]:
    """Every range edge of a weight set under a traffic level."""
    edges, start = [], Fraction(0)
    for weight in weights_bp:
        edges += [start, start + Fraction(traffic_bp * weight, 10**8)]
        start += Fraction(weight, 10**4)
    return edges


@functools.cache
def sorted_pool(salt: str, count: int) -> tuple[list[int], list[str]]:
    """The candidate ids ``b-<n>`` sorted by their experiment hash under ``salt``."""
    hashed = sorted((position(f"{salt}.b-{n}")[0], f"b-{n}") for n in range(count))
    return [h for h, _ in hashed], [vid for _, vid in hashed]


def near_boundary_ids(salt: str, weights_bp: list[int], traffic_bp: int) -> list[str]:
    """Candidate ids whose position is closest to each range edge, from below and from above."""
    hashes, ids = sorted_pool(salt, POOL_SIZE)
    chosen = set()
    for edge in boundaries(weights_bp, traffic_bp):
        first_at_or_above = bisect.bisect_left(hashes, math.ceil(edge * 2**32))
        chosen.update(ids[max(first_at_or_above - 1, 0) : first_at_or_above + 1])
    return sorted(chosen)


def variant_cases(rng: random.Random, ids: list[str]) -> list[dict]:
    cases = []
    for weights_bp in WEIGHT_SETS:
        for traffic_bp in TRAFFICS:
            salt = rng.choice(SALTS)
            sample = rng.sample(ids, 12)
            sample += near_boundary_ids(salt, weights_bp, traffic_bp)
            cases += [variant_case(salt, vid, weights_bp, traffic_bp) for vid in sample]
    return cases


def placement_cases(rng: random.Random, ids: list[str], pool: list[str]) -> list[dict]:
    cases = []
    for range_bp in RANGES:
        for placement in PLACEMENTS:
            sample = rng.sample(ids, 6) + rng.sample(pool, 4)
            cases += [placement_case(placement, vid, range_bp) for vid in sample]
    return cases


def hash_cases(ids: list[str]) -> list[dict]:
    texts = ["", "a", "abc", "cart-accessory-cross-sell.visitor-1", "placement/cart.visitor-1"]
    texts += [f"{SALTS[0]}.{vid}" for vid in ids[: len(FIXED_IDS)]]
    return [
        {"input": text, "utf8_hex": text.encode("utf-8").hex(), "hash": position(text)[0]}
        for text in texts
    ]


def bucketing_vectors() -> dict[str, Any]:
    rng = random.Random(SEED)
    ids = visitor_ids(rng)
    pool = [f"b-{n}" for n in rng.sample(range(POOL_SIZE), 200)]
    return {
        "spec_version": SPEC_VERSION,
        "description": "offerlab hashing spec v1: murmur3_32(seed 0) over UTF-8, see sdk/SPEC.md",
        "hash_cases": hash_cases(ids),
        "variant_cases": variant_cases(rng, ids),
        "placement_cases": placement_cases(rng, ids, pool),
    }


# --- evaluation vectors -------------------------------------------------------------------


def variant(key: str, weight_bp: int, payload: dict | None = None) -> dict:
    return {
        "key": key,
        "name": key.replace("-", " ").capitalize(),
        "weight_bp": weight_bp,
        "payload": payload or {},
    }


def experiment(
    key: str,
    placement: str,
    status: str,
    range_bp: list[int],
    traffic_bp: int,
    variants: list[dict],
    offer_kind: str = "cross_sell",
) -> dict:
    return {
        "key": key,
        "salt": key,
        "status": status,
        "placement": placement,
        "offer_kind": offer_kind,
        "traffic_bp": traffic_bp,
        "placement_range_bp": range_bp,
        "allocation_version": 3,
        "control": variants[0]["key"],
        "variants": variants,
    }


def demo_snapshot() -> dict[str, Any]:
    """Two running experiments sharing the cart, one paused, one at full product_page."""
    return {
        "spec_version": SPEC_VERSION,
        "snapshot_version": "v1-vectors",
        "generated_at": "2026-11-25T10:00:00+00:00",
        "experiments": [
            experiment(
                "cart-accessory-cross-sell",
                "cart",
                "running",
                [0, 5000],
                5000,
                [
                    variant("no-offer", 5000),
                    variant(
                        "case", 3000, {"sku": "CASE-01", "price": 19.0, "message": "Add a case"}
                    ),
                    variant("charger", 2000, {"sku": "CHG-20", "price": 24.9}),
                ],
            ),
            experiment(
                "cart-free-shipping-nudge",
                "cart",
                "running",
                [5000, 8000],
                10000,
                [
                    variant("no-bar", 5000),
                    variant("bar-75", 5000, {"threshold": 75, "currency": "EUR"}),
                ],
            ),
            experiment(
                "checkout-warranty-price",
                "checkout",
                "paused",
                [0, 10000],
                10000,
                [
                    variant("warranty-49", 3334, {"price": 49}),
                    variant("warranty-39", 3333, {"price": 39}),
                    variant("warranty-29", 3333, {"price": 29}),
                ],
                offer_kind="upsell",
            ),
            experiment(
                "product-page-storage-upgrade",
                "product_page",
                "running",
                [0, 10000],
                10000,
                [
                    variant("no-upgrade", 9000),
                    variant("upgrade-256gb", 1000, {"sku": "STOR-256", "price": 100.0}),
                ],
                offer_kind="upsell",
            ),
        ],
    }


def expected_evaluation(exp: dict | None, visitor_id: str) -> dict[str, Any]:
    """The spec's evaluation order, written out with exact fractions."""
    if exp is None:
        return outcome(None, None, "fallback")
    if exp["status"] != "running":
        return outcome(exp, exp["control"], "not_running")
    _, placement_pos = position(f"placement/{exp['placement']}.{visitor_id}")
    if not expected_in_range(placement_pos, exp["placement_range_bp"]):
        return outcome(exp, exp["control"], "other_experiment")
    _, pos = position(f"{exp['salt']}.{visitor_id}")
    weights = [v["weight_bp"] for v in exp["variants"]]
    index = expected_variant(pos, weights, exp["traffic_bp"])
    if index is None:
        return outcome(exp, exp["control"], "outside_traffic")
    return outcome(exp, exp["variants"][index]["key"], "in_experiment")


def expected_offer(snapshot: dict | None, placement: str, visitor_id: str) -> dict[str, Any]:
    if snapshot is None:
        return outcome(None, None, "fallback")
    _, pos = position(f"placement/{placement}.{visitor_id}")
    for exp in snapshot["experiments"]:
        if (
            exp["placement"] == placement
            and exp["status"] == "running"
            and expected_in_range(pos, exp["placement_range_bp"])
        ):
            return expected_evaluation(exp, visitor_id)
    return outcome(None, None, "no_experiment")


def outcome(exp: dict | None, variant_key: str | None, reason: str) -> dict[str, Any]:
    chosen = None if exp is None else next(v for v in exp["variants"] if v["key"] == variant_key)
    in_experiment = reason == "in_experiment"
    return {
        "experiment": None if exp is None else exp["key"],
        "variant": variant_key,
        "payload": None if chosen is None else chosen["payload"],
        "in_experiment": in_experiment,
        "reason": reason,
        "allocation_version": None if exp is None else exp["allocation_version"],
        "probability": Fraction(chosen["weight_bp"], 10**4).__float__() if in_experiment else None,
    }


def evaluation_cases(snapshot: dict, ids: list[str]) -> list[dict]:
    by_key = {exp["key"]: exp for exp in snapshot["experiments"]}
    cases = []
    for key in [*by_key, "no-such-experiment"]:
        for vid in ids:
            cases.append(
                {
                    "call": "evaluate",
                    "snapshot": "demo",
                    "experiment": key,
                    "visitor_id": vid,
                    "expected": expected_evaluation(by_key.get(key), vid),
                }
            )
    for placement in PLACEMENTS:
        for vid in ids:
            cases.append(
                {
                    "call": "offer_for",
                    "snapshot": "demo",
                    "placement": placement,
                    "visitor_id": vid,
                    "expected": expected_offer(snapshot, placement, vid),
                }
            )
    for vid in ids[:5]:
        cases.append(
            {
                "call": "offer_for",
                "snapshot": None,
                "placement": "cart",
                "visitor_id": vid,
                "expected": expected_offer(None, "cart", vid),
            }
        )
    return cases


def evaluation_vectors() -> dict[str, Any]:
    rng = random.Random(SEED + 1)
    snapshot = demo_snapshot()
    ids = visitor_ids(rng)[:60]
    return {
        "spec_version": SPEC_VERSION,
        "description": "snapshot + visitor -> assignment; evaluation order per sdk/SPEC.md",
        "snapshots": {"demo": snapshot},
        "cases": evaluation_cases(snapshot, ids),
    }


def write(name: str, document: dict[str, Any]) -> None:
    VECTORS.mkdir(exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, indent=1)
    (VECTORS / name).write_text(text + "\n", encoding="utf-8")


def main() -> None:
    write("bucketing-v1.json", bucketing_vectors())
    write("evaluation-v1.json", evaluation_vectors())
    write("serving-v1.json", serving_vectors(visitor_ids(random.Random(SEED + 2))[:60]))


if __name__ == "__main__":
    main()
