"""`offerlab demo`: a fresh SQLite database, the examples, the service and simulated shoppers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CART = "cart-accessory-cross-sell"


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run a short demo to completion once; the database it leaves behind."""
    database = tmp_path_factory.mktemp("demo") / "demo.db"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "offerlab",
            "demo",
            "--visitors",
            "3000",
            "--exit-when-done",
            "--port",
            "0",
            "--database",
            str(database),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3,000 shoppers sent" in done.stdout
    assert "traffic done" in done.stdout
    return database


@pytest.fixture(scope="module")
def cart_report(demo_database: Path) -> dict:
    from click.testing import CliRunner

    from offerlab.cli import main

    result = CliRunner(env={"DATABASE_URL": f"sqlite:///{demo_database}"}).invoke(
        main, ["report", CART, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_demo_sends_shoppers_to_every_variant_of_the_cart_bandit(cart_report):
    units = {variant["variant"]: variant["units"] for variant in cart_report["variants"]}

    assert set(units) == {"no-offer", "case", "screen-protector", "fast-charger"}
    assert all(count > 0 for count in units.values()), units
    # 60% of the shoppers reach the cart and 80% of those are in the experiment.
    assert 0.6 * 0.8 * 3000 * 0.85 < sum(units.values()) < 0.6 * 0.8 * 3000 * 1.15
    accepted = {variant["variant"]: variant["acceptances"] for variant in cart_report["variants"]}
    assert accepted["no-offer"] == 0  # nothing to accept without an offer
    assert accepted["fast-charger"] > 0


@pytest.mark.slow
def test_demo_re_weights_the_cart_bandit_at_least_once(cart_report):
    history = cart_report["allocation_history"]

    assert len(history) >= 2
    assert [epoch["version"] for epoch in history] == list(range(1, len(history) + 1))
