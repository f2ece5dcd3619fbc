"""The serving-context vectors (``vectors/serving-v1.json``), written by ``make_vectors.py``.

Segment weights, per-request eligibility and the measurement slice (sdk/SPEC.md, section 4),
computed independently of ``offerlab_sdk``: mmh3 directly, positions and probabilities as exact
``fractions.Fraction`` values compared with the spec's ranges.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import mmh3

SPEC_VERSION = 1
SEED = 20261126

DEVICE_WEIGHTS = {
    "mobile": [1000, 1000, 8000],
    "desktop": [3334, 3333, 3333],
    "1": [0, 10000, 0],
    "true": [2500, 2500, 5000],
}
BAND_WEIGHTS = {"0-50": [4000, 0, 3000, 3000], "50-100": [1000, 2000, 0, 7000]}

CONTEXTS: list[tuple[dict[str, Any] | None, list[str]]] = [
    (None, []),
    ({}, []),
    ({"device": "mobile"}, []),
    ({"device": "desktop", "country": "DE"}, []),
    ({"device": "tablet"}, []),
    ({"device": 1}, []),
    ({"device": "1"}, []),
    ({"device": True}, []),
    ({"device": False}, []),
    ({"device": 1.0}, []),
    ({"device": None}, []),
    ({"cart_band": "50-100"}, []),
    ({"cart_band": "0-50", "device": "mobile"}, []),
    (None, ["case"]),
    (None, ["no-offer"]),
    (None, ["case", "charger"]),
    (None, ["no-offer", "case", "charger", "cable"]),
    (None, ["not-a-variant"]),
    (None, ["case", "not-a-variant"]),
    ({"device": "mobile"}, ["charger"]),
    ({"device": "desktop"}, ["case"]),
    ({"device": "1"}, ["case"]),
    ({"device": True}, ["no-offer"]),
    ({"cart_band": "50-100"}, ["cable"]),
    ({"cart_band": "0-50"}, ["no-offer", "charger", "cable"]),
]


def position(text: str) -> tuple[int, Fraction]:
    """Return (hash, exact position in [0, 1)) of ``text`` per the spec."""
    hash_value = mmh3.hash(text.encode("utf-8"), 0, False)
    return hash_value, Fraction(hash_value, 2**32)


def variant(key: str, weight_bp: int) -> dict[str, Any]:
    return {"key": key, "name": key, "weight_bp": weight_bp, "payload": {"sku": key.upper()}}


def experiment(key: str, placement: str, variants: list[dict], **fields: Any) -> dict[str, Any]:
    document = {
        "key": key,
        "salt": key,
        "status": fields.pop("status", "running"),
        "placement": placement,
        "offer_kind": "cross_sell",
        "traffic_bp": fields.pop("traffic_bp", 10000),
        "placement_range_bp": fields.pop("placement_range_bp", [0, 10000]),
        "allocation_version": 5,
        "control": variants[0]["key"],
        "variants": variants,
    }
    document.update(fields)
    return document


def serving_snapshot() -> dict[str, Any]:
    """Bandits with a measurement slice and segments, a partial-traffic one, a paused one."""
    three = [variant("no-offer", 5000), variant("case", 3000), variant("charger", 2000)]
    four = [
        variant("no-offer", 2500),
        variant("case", 2500),
        variant("charger", 0),
        variant("cable", 5000),
    ]
    return {
        "spec_version": SPEC_VERSION,
        "snapshot_version": "serving-vectors",
        "generated_at": "2026-11-26T10:00:00+00:00",
        "experiments": [
            experiment(
                "cart-bandit",
                "cart",
                three,
                measurement_bp=2000,
                segment_attribute="device",
                segment_weights_bp=DEVICE_WEIGHTS,
            ),
            experiment(
                "checkout-bandit",
                "checkout",
                four,
                traffic_bp=5000,
                placement_range_bp=[0, 5000],
                measurement_bp=3000,
                segment_attribute="cart_band",
                segment_weights_bp=BAND_WEIGHTS,
            ),
            experiment("pdp-fixed", "product_page", three, segment_attribute=None),
            experiment("email-all-measured", "email", four, measurement_bp=10000),
            experiment(
                "post-purchase-paused",
                "post_purchase",
                three,
                status="paused",
                measurement_bp=5000,
                segment_attribute="device",
                segment_weights_bp=DEVICE_WEIGHTS,
            ),
        ],
    }


def segment_text(value: Any) -> str | None:
    """The spec's segment text: strings as is, integers in decimal, booleans true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return None


def in_measurement_slice(exp: dict, visitor_id: str) -> bool:
    _, pos = position(f"placement/measurement.{visitor_id}")
    return pos < Fraction(exp.get("measurement_bp", 0), 10**4)


def base_weights(exp: dict, attributes: dict | None, measured: bool) -> list[int]:
    if measured:
        return [1] * len(exp["variants"])
    attribute = exp.get("segment_attribute")
    if attribute is not None and attributes and attribute in attributes:
        text = segment_text(attributes[attribute])
        if text in exp.get("segment_weights_bp", {}):
            return list(exp["segment_weights_bp"][text])
    return [v["weight_bp"] for v in exp["variants"]]


def choose(pos: Fraction, weights: list[int], traffic_bp: int) -> int | None:
    """Index of the range [S_i / E, S_i / E + T * W_i / (10**4 * E)) holding ``pos``."""
    total, start = sum(weights), 0
    for index, weight in enumerate(weights):
        low = Fraction(start, total)
        if low <= pos < low + Fraction(traffic_bp * weight, 10**4 * total):
            return index
        start += weight
    return None


def expected_serving(
    exp: dict, visitor_id: str, attributes: dict | None, ineligible: list[str]
) -> dict[str, Any]:
    """The spec's evaluation order with the serving context, written out with fractions."""
    if exp["status"] != "running":
        return uncounted(exp, "not_running")
    _, placement_pos = position(f"placement/{exp['placement']}.{visitor_id}")
    start, end = exp["placement_range_bp"]
    if not Fraction(start, 10**4) <= placement_pos < Fraction(end, 10**4):
        return uncounted(exp, "other_experiment")
    measured = in_measurement_slice(exp, visitor_id)
    keys = [v["key"] for v in exp["variants"]]
    eligible = [key not in ineligible for key in keys]
    weights = [
        w if ok else 0
        for w, ok in zip(base_weights(exp, attributes, measured), eligible, strict=True)
    ]
    if sum(weights) == 0:
        return uncounted(exp, "not_eligible")
    _, pos = position(f"{exp['salt']}.{visitor_id}")
    index = choose(pos, weights, exp["traffic_bp"])
    if index is None:
        return uncounted(exp, "outside_traffic")
    probability = Fraction(weights[index], sum(weights))
    chosen = exp["variants"][index]
    return {
        "experiment": exp["key"],
        "variant": chosen["key"],
        "payload": chosen["payload"],
        "in_experiment": True,
        "reason": "in_experiment",
        "allocation_version": exp["allocation_version"],
        "probability": float(probability),
        "probability_fraction": f"{probability.numerator}/{probability.denominator}",
        "measurement": measured,
        "eligible": None
        if all(eligible)
        else [k for k, ok in zip(keys, eligible, strict=True) if ok],
    }


def uncounted(exp: dict, reason: str) -> dict[str, Any]:
    control = next(v for v in exp["variants"] if v["key"] == exp["control"])
    return {
        "experiment": exp["key"],
        "variant": control["key"],
        "payload": control["payload"],
        "in_experiment": False,
        "reason": reason,
        "allocation_version": exp["allocation_version"],
        "probability": None,
        "probability_fraction": None,
        "measurement": False,
        "eligible": None,
    }


def measurement_cases(ids: list[str]) -> list[dict[str, Any]]:
    cases = []
    for measurement_bp in (0, 1, 2000, 5000, 9999, 10000):
        for visitor_id in ids[:12]:
            text = f"placement/measurement.{visitor_id}"
            hash_value, pos = position(text)
            cases.append(
                {
                    "visitor_id": visitor_id,
                    "input": text,
                    "hash": hash_value,
                    "measurement_bp": measurement_bp,
                    "in_slice": pos < Fraction(measurement_bp, 10**4),
                }
            )
    return cases


def serving_cases(snapshot: dict, rng: random.Random, ids: list[str]) -> list[dict[str, Any]]:
    cases = []
    for exp in snapshot["experiments"]:
        count = 3 if exp["status"] != "running" else 8
        for attributes, ineligible in CONTEXTS:
            for visitor_id in rng.sample(ids, count):
                cases.append(
                    {
                        "snapshot": "serving",
                        "experiment": exp["key"],
                        "visitor_id": visitor_id,
                        "attributes": attributes,
                        "ineligible": ineligible,
                        "expected": expected_serving(exp, visitor_id, attributes, ineligible),
                    }
                )
    return cases


def serving_vectors(ids: list[str]) -> dict[str, Any]:
    """The whole ``serving-v1.json`` document for the given visitor ids."""
    rng = random.Random(SEED)
    snapshot = serving_snapshot()
    return {
        "spec_version": SPEC_VERSION,
        "description": (
            "segment weights, per-request eligibility and the measurement slice per sdk/SPEC.md"
        ),
        "snapshots": {"serving": snapshot},
        "measurement_cases": measurement_cases(ids),
        "cases": serving_cases(snapshot, rng, ids),
    }
