"""Shared loader for the frozen contract vectors in ``vectors/``.

Any test in this folder that takes one of these arguments is parametrized over the vectors:

- ``hash_case``: ``{"input", "utf8_hex", "hash"}``
- ``variant_case``: ``{"salt", "visitor_id", "weights_bp", "traffic_bp", "hash", "variant_index"}``
- ``placement_case``: ``{"placement", "visitor_id", "range_bp", "hash", "in_range"}``
- ``evaluation_case``: ``{"call": "evaluate"|"offer_for", "snapshot": name|None, "experiment"
  or "placement", "visitor_id", "expected": {...Assignment fields, reason as a string}}``
- ``serving_case``: ``{"snapshot", "experiment", "visitor_id", "attributes": {...}|None,
  "ineligible": [...], "expected": {...Assignment fields plus "measurement", "eligible" and
  "probability_fraction" ("num/den", the exact propensity)}}``
- ``measurement_case``: ``{"visitor_id", "input", "hash", "measurement_bp", "in_slice"}``

The fixture ``evaluation_snapshots`` maps snapshot names to their JSON documents, and
``load_vectors`` is the loader itself (``load_vectors("bucketing-v1.json")``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"
SPEC_VERSION = 1

_CASE_SOURCES = {
    "hash_case": ("bucketing-v1.json", "hash_cases"),
    "variant_case": ("bucketing-v1.json", "variant_cases"),
    "placement_case": ("bucketing-v1.json", "placement_cases"),
    "evaluation_case": ("evaluation-v1.json", "cases"),
    "serving_case": ("serving-v1.json", "cases"),
    "measurement_case": ("serving-v1.json", "measurement_cases"),
}


@functools.cache
def _read_vectors(name: str) -> dict[str, Any]:
    document = json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))
    if document.get("spec_version") != SPEC_VERSION:
        raise ValueError(f"{name}: spec_version {document.get('spec_version')!r} is not supported")
    return document


def _case_id(argname: str, index: int, case: dict[str, Any]) -> str:
    if argname == "evaluation_case":
        target = case.get("experiment") or case.get("placement")
        return f"{index}-{case['call']}-{target}-{case['expected']['reason']}"
    if argname == "serving_case":
        return f"{index}-{case['experiment']}-{case['expected']['reason']}"
    return f"{index}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for argname, (file_name, section) in _CASE_SOURCES.items():
        if argname in metafunc.fixturenames:
            cases = _read_vectors(file_name)[section]
            ids = [_case_id(argname, i, case) for i, case in enumerate(cases)]
            metafunc.parametrize(argname, cases, ids=ids)


@pytest.fixture(scope="session")
def load_vectors() -> Callable[[str], dict[str, Any]]:
    """The vector loader: file name in ``vectors/`` -> decoded document (spec_version checked)."""
    return _read_vectors


@pytest.fixture(scope="session")
def evaluation_snapshots() -> dict[str, dict[str, Any]]:
    """Snapshot documents referenced by ``evaluation_case["snapshot"]``."""
    return _read_vectors("evaluation-v1.json")["snapshots"]


@pytest.fixture(scope="session")
def serving_snapshots() -> dict[str, dict[str, Any]]:
    """Snapshot documents referenced by ``serving_case["snapshot"]``."""
    return _read_vectors("serving-v1.json")["snapshots"]
