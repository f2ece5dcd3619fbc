"""`offerlab power` prints the sample size statsmodels' power solver gives, and the days."""

from __future__ import annotations

import math

from click.testing import CliRunner
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize


def test_power_matches_statsmodels_with_a_holm_sized_alpha():
    from offerlab.cli import main

    result = CliRunner().invoke(
        main,
        [
            "power",
            "--baseline",
            "0.03",
            "--mde",
            "0.10",
            "--variants",
            "3",
            "--daily-units",
            "5000",
        ],
    )
    assert result.exit_code == 0, result.output
    effect = proportion_effectsize(0.033, 0.03)
    # Two comparisons against the control: sized at Holm's strictest step, alpha / 2.
    expected = math.ceil(NormalIndPower().solve_power(effect, alpha=0.025, power=0.8, ratio=1.0))
    assert f"units per variant: {expected:,}" in result.output
    assert f"days at 5,000 units/day and 100% traffic: {math.ceil(3 * expected / 5000)}" in (
        result.output
    )


def test_impossible_inputs_are_a_usage_error():
    from offerlab.cli import main

    result = CliRunner().invoke(main, ["power", "--baseline", "0.5", "--mde", "1.5"])
    assert result.exit_code == 2
    assert "between 0 and 1" in result.output
