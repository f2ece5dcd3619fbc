"""The package surface: a cheap, side-effect-free import and an explicit public API."""

from __future__ import annotations

import subprocess
import sys

import offerlab_sdk


def test_public_api() -> None:
    assert set(offerlab_sdk.__all__) >= {
        "Client",
        "Assignment",
        "Reason",
        "Snapshot",
        "SnapshotError",
        "InMemoryStickyStore",
        "__version__",
    }
    for name in offerlab_sdk.__all__:
        assert getattr(offerlab_sdk, name) is not None


def test_importing_the_hashing_spec_loads_no_http_client_and_starts_no_thread() -> None:
    code = (
        "import sys, threading; import offerlab_sdk.bucketing, offerlab_sdk.evaluate; "
        "print('httpx' in sys.modules, threading.active_count())"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert output == ["False", "1"]
