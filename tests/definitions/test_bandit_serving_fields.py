"""The bandit block's serving-context fields: measurement_share, segment_attribute and
prior_strength, from YAML (with file:line errors) to the domain, and diffed by the plan."""

from dataclasses import replace
from pathlib import Path

import pytest

from offerlab.definitions import load_definitions
from offerlab.definitions.plan import FieldChange, plan_changes
from offerlab.domain.model import (
    AllocationKind,
    BanditSettings,
    Experiment,
    ExperimentStatus,
    OfferKind,
    Variant,
)

HEAD = (
    "key: cart-case\nname: Case\nplacement: cart\nkind: cross_sell\n"
    "allocation: thompson\nobjective: {objective}\ncontrol: a\nvariants:\n"
    "  - {{key: a, name: A, weight: 0.5}}\n"
    "  - {{key: b, name: B, weight: 0.5}}\n"
    "bandit:\n"
)


def load(tmp_path: Path, bandit: str, objective: str = "conversion"):  # type: ignore[no-untyped-def]
    source = tmp_path / "case.yaml"
    source.write_text(HEAD.format(objective=objective) + bandit, encoding="utf-8")
    return load_definitions(source)


def test_the_serving_fields_reach_the_domain(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        "  measurement_share: 0.1\n  segment_attribute: device\n  prior_strength: 40\n",
    )

    assert result.problems == ()
    (experiment,) = result.experiments
    bandit = experiment.bandit
    assert (bandit.measurement_share, bandit.segment_attribute, bandit.prior_strength) == (
        0.1,
        "device",
        40.0,
    )


def test_the_serving_fields_default_to_no_slice_no_segments(tmp_path: Path) -> None:
    (experiment,) = load(tmp_path, "  min_share: 0.1\n").experiments

    assert experiment.bandit.measurement_share == 0.0
    assert experiment.bandit.segment_attribute is None
    assert experiment.bandit.prior_strength == 100.0


@pytest.mark.parametrize(
    ("bandit", "objective", "expected"),
    [
        ("  measurement_share: 1.0\n", "conversion", ":12: bandit.measurement_share: must be < 1"),
        ("  measurement_share: -0.1\n", "conversion", ":12: bandit.measurement_share: must be >="),
        ("  segment_attribute: 'my device'\n", "conversion", ":12: bandit.segment_attribute:"),
        ("  prior_strength: -5\n", "conversion", ":12: bandit.prior_strength: must be >= 0"),
        ("  prior_strength: many\n", "conversion", ":12: bandit.prior_strength:"),
        (
            "  segment_attribute: device\n",
            "order_value",
            ":12: bandit.segment_attribute: per-segment weights are not available with "
            "objective order_value",
        ),
    ],
)
def test_invalid_serving_fields_are_reported_with_file_and_line(
    tmp_path: Path, bandit: str, objective: str, expected: str
) -> None:
    problems = [str(problem) for problem in load(tmp_path, bandit, objective).problems]

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'case.yaml'}:")
    assert expected in problems[0]


def _experiment(bandit: BanditSettings) -> Experiment:
    return Experiment(
        key="cart-case",
        name="Case",
        placement="cart",
        offer_kind=OfferKind.CROSS_SELL,
        control="a",
        status=ExperimentStatus.RUNNING,
        allocation=AllocationKind.THOMPSON,
        salt="cart-case",
        variants=(Variant("a", "A", 0.5), Variant("b", "B", 0.5)),
        bandit=bandit,
    )


def test_apply_diffs_every_bandit_option_and_allows_it_while_running() -> None:
    current = _experiment(BanditSettings())
    desired = _experiment(
        replace(
            BanditSettings(),
            burn_in_units=50,
            measurement_share=0.2,
            segment_attribute="device",
            prior_strength=30.0,
        )
    )

    (entry,) = plan_changes([desired], {current.key: current}).entries

    assert entry.changes == (
        FieldChange("bandit.burn_in_units", 100, 50),
        FieldChange("bandit.measurement_share", 0.0, 0.2),
        FieldChange("bandit.segment_attribute", None, "device"),
        FieldChange("bandit.prior_strength", 100.0, 30.0),
    )
    assert entry.refused is None


def test_equal_bandit_options_are_unchanged() -> None:
    settings = BanditSettings(measurement_share=0.2, segment_attribute="device")

    (entry,) = plan_changes([_experiment(settings)], {"cart-case": _experiment(settings)}).entries

    assert entry.action == "unchanged"
