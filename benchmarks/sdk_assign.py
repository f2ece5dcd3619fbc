"""Time ``Client.assign`` against GrowthBook's Python SDK and a bare hash + bucket floor.

Run from the repository root: ``python benchmarks/sdk_assign.py [--visitors 100000]``.
The offerlab client is built with an in-process httpx transport serving a fixed snapshot (no
network) and its default in-memory sticky store, and every visitor id is distinct, so each call
takes the full first-assignment path (sticky miss, evaluation, sticky write). The targets are
for the common call without context; the call with attributes and an ineligible variant
(segment lookup, measurement hash, renormalised weights) is reported beside it.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import time
from collections import Counter
from collections.abc import Callable

import httpx
import mmh3
from growthbook import Experiment, GrowthBook

from offerlab_sdk import Client

EXPERIMENT_KEY = "cart-accessory-cross-sell"
WEIGHTS_BP = (3334, 3333, 3333)
SNAPSHOT = {
    "spec_version": 1,
    "snapshot_version": "bench",
    "generated_at": "2026-11-25T10:00:00+00:00",
    "experiments": [
        {
            "key": EXPERIMENT_KEY,
            "salt": EXPERIMENT_KEY,
            "status": "running",
            "placement": "cart",
            "offer_kind": "cross_sell",
            "traffic_bp": 10000,
            "placement_range_bp": [0, 10000],
            "allocation_version": 1,
            "control": "no-offer",
            "variants": [
                {"key": "no-offer", "name": "No offer", "weight_bp": WEIGHTS_BP[0], "payload": {}},
                {
                    "key": "case",
                    "name": "Phone case",
                    "weight_bp": WEIGHTS_BP[1],
                    "payload": {"sku": "CASE-01", "price": 19.0},
                },
                {
                    "key": "charger",
                    "name": "Charger",
                    "weight_bp": WEIGHTS_BP[2],
                    "payload": {"sku": "CHG-20", "price": 24.9},
                },
            ],
        }
    ],
}


def fixed_snapshot_transport() -> httpx.MockTransport:
    """Serve the snapshot and accept events without any socket."""
    body = json.dumps(SNAPSHOT).encode()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/snapshot":
            return httpx.Response(200, content=body, headers={"ETag": '"bench"'})
        return httpx.Response(200, json={"accepted": 0, "duplicates": 0, "rejected": []})

    return httpx.MockTransport(handle)


def time_offerlab(ids: list[str]) -> tuple[float, list[str | None]]:
    client = Client(
        "http://offerlab.invalid",
        "sdk-bench",
        refresh_interval=3600.0,
        transport=fixed_snapshot_transport(),
    )
    assign = client.assign
    try:
        started = time.perf_counter()
        variants = [assign(EXPERIMENT_KEY, vid).variant for vid in ids]
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return elapsed, variants


def time_offerlab_in_context(ids: list[str]) -> tuple[float, list[str | None]]:
    """The request-context path: attributes and one ineligible variant on every call."""
    client = Client(
        "http://offerlab.invalid",
        "sdk-bench",
        refresh_interval=3600.0,
        transport=fixed_snapshot_transport(),
    )
    assign, attributes, ineligible = client.assign, {"device": "mobile"}, ("charger",)
    try:
        started = time.perf_counter()
        variants = [
            assign(EXPERIMENT_KEY, vid, attributes, ineligible=ineligible).variant for vid in ids
        ]
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return elapsed, variants


def time_growthbook_documented(ids: list[str]) -> tuple[float, list[int]]:
    experiment = Experiment(
        key=EXPERIMENT_KEY, variations=[0, 1, 2], weights=[w / 10_000 for w in WEIGHTS_BP]
    )
    started = time.perf_counter()
    variants = [GrowthBook(attributes={"id": vid}).run(experiment).value for vid in ids]
    return time.perf_counter() - started, variants


def time_growthbook_reused(ids: list[str]) -> tuple[float, list[int]]:
    experiment = Experiment(
        key=EXPERIMENT_KEY, variations=[0, 1, 2], weights=[w / 10_000 for w in WEIGHTS_BP]
    )
    growthbook = GrowthBook(attributes={})
    variants = []
    started = time.perf_counter()
    for vid in ids:
        growthbook.set_attributes({"id": vid})
        variants.append(growthbook.run(experiment).value)
    return time.perf_counter() - started, variants


def time_floor(ids: list[str]) -> tuple[float, list[int]]:
    """One mmh3 hash and a bisect over precomputed integer thresholds."""
    thresholds, start = [], 0
    for weight in WEIGHTS_BP[:-1]:
        start += weight
        thresholds.append(start * 2**32 // 10_000)
    hash_ = mmh3.hash
    locate = bisect.bisect_right
    prefix = EXPERIMENT_KEY + "."
    started = time.perf_counter()
    variants = [locate(thresholds, hash_((prefix + vid).encode(), 0, False)) for vid in ids]
    return time.perf_counter() - started, variants


def interleaved_best(
    runs: int, contenders: dict[str, Callable[[list[str]], tuple[float, list]]], ids: list[str]
) -> dict[str, tuple[float, list]]:
    """Best time of each contender, running them in turn ``runs`` times so that load from
    other processes hits all of them alike."""
    best: dict[str, tuple[float, list]] = {}
    for _ in range(runs):
        for name, measure in contenders.items():
            gc.collect()
            result = measure(ids)
            if name not in best or result[0] < best[name][0]:
                best[name] = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ids = [f"visitor-{n}" for n in range(args.visitors)]
    contenders = {
        "offerlab Client.assign": time_offerlab,
        "offerlab Client.assign with context": time_offerlab_in_context,
        "growthbook (new instance per call)": time_growthbook_documented,
        "growthbook (one instance, set_attributes)": time_growthbook_reused,
        "floor (mmh3 + bisect)": time_floor,
    }
    best = interleaved_best(args.runs, contenders, ids)
    per_call = {name: elapsed / len(ids) * 1e6 for name, (elapsed, _) in best.items()}
    outputs = {name: variants for name, (_, variants) in best.items()}
    keys = ["no-offer", "case", "charger"]
    floor_variants = [keys[i] for i in outputs["floor (mmh3 + bisect)"]]
    assert outputs["offerlab Client.assign"] == floor_variants, "the floor must assign identically"
    print(f"{len(ids):,} distinct visitor ids, 3 variants {WEIGHTS_BP}, best of {args.runs} runs")
    for name, micros in per_call.items():
        print(f"  {name:<44} {micros:8.3f} us/call")
    offerlab = per_call["offerlab Client.assign"]
    growthbook = min(
        per_call["growthbook (new instance per call)"],
        per_call["growthbook (one instance, set_attributes)"],
    )
    print(f"  fastest growthbook / offerlab: {growthbook / offerlab:6.1f}x  (target >= 10x)")
    floor = per_call["floor (mmh3 + bisect)"]
    print(f"  offerlab / floor:              {offerlab / floor:6.2f}x  (target <= 5x)")
    print(f"  offerlab split: {dict(Counter(outputs['offerlab Client.assign']))}")
    in_context = Counter(outputs["offerlab Client.assign with context"])
    print(f"  with context (attributes, 'charger' ineligible): {dict(in_context)}")


if __name__ == "__main__":
    main()
