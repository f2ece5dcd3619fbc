from dataclasses import replace

import pytest

from offerlab.definitions.plan import FieldChange, PlanEntry, describe_plan, plan_changes
from offerlab.domain.model import (
    AllocationKind,
    BanditSettings,
    Experiment,
    ExperimentStatus,
    OfferKind,
    Variant,
)


def make_experiment(**overrides: object) -> Experiment:
    values: dict[str, object] = {
        "key": "cart-case",
        "name": "Case in the cart",
        "placement": "cart",
        "offer_kind": OfferKind.CROSS_SELL,
        "control": "no-offer",
        "status": ExperimentStatus.RUNNING,
        "variants": (
            Variant("no-offer", "No offer", 0.5),
            Variant("case", "Case", 0.5, {"price": 19.9, "currency": "EUR"}),
        ),
    }
    values.update(overrides)
    return Experiment(**values)  # type: ignore[arg-type]


def only_entry(desired: Experiment, current: Experiment | None) -> PlanEntry:
    stored = {} if current is None else {current.key: current}
    (entry,) = plan_changes([desired], stored).entries
    return entry


def test_new_experiment_is_created_with_its_key_as_salt() -> None:
    entry = only_entry(make_experiment(), None)

    assert (entry.action, entry.changes, entry.refused) == ("create", (), None)
    assert entry.desired == make_experiment(salt="cart-case")


def test_identical_experiment_is_unchanged() -> None:
    entry = only_entry(make_experiment(), make_experiment(salt="cart-case"))

    assert (entry.action, entry.changes, entry.refused) == ("unchanged", (), None)


def test_changed_settings_are_listed_field_by_field() -> None:
    current = make_experiment(salt="cart-case")
    desired = make_experiment(name="Case offer", traffic=0.5, status=ExperimentStatus.PAUSED)

    entry = only_entry(desired, current)

    assert entry.action == "change"
    assert entry.refused is None
    assert entry.changes == (
        FieldChange("name", "Case in the cart", "Case offer"),
        FieldChange("status", ExperimentStatus.RUNNING, ExperimentStatus.PAUSED),
        FieldChange("traffic", 1.0, 0.5),
    )


def test_salt_of_current_is_kept_when_the_yaml_has_none() -> None:
    current = make_experiment(salt="legacy-salt")

    entry = only_entry(make_experiment(), current)

    assert entry.action == "unchanged"
    assert entry.desired is not None and entry.desired.salt == "legacy-salt"


def test_explicit_new_salt_of_a_running_experiment_is_refused() -> None:
    entry = only_entry(make_experiment(salt="new"), make_experiment(salt="old"))

    assert entry.changes == (FieldChange("salt", "old", "new"),)
    assert entry.refused is not None and "salt" in entry.refused


VARIANT_EDITS = [
    pytest.param(
        lambda v: (replace(v[0], weight=0.4), replace(v[1], weight=0.6)),
        ["variants.no-offer.weight", "variants.case.weight"],
        id="weights",
    ),
    pytest.param(
        lambda v: (v[0], replace(v[1], payload={"price": 17.9, "currency": "EUR"})),
        ["variants.case.payload"],
        id="payload",
    ),
    pytest.param(
        lambda v: (v[0], replace(v[1], key="glass")),
        ["variants"],
        id="keys",
    ),
    pytest.param(lambda v: (v[1], v[0]), ["variants"], id="order"),
]


@pytest.mark.parametrize(("edit", "fields"), VARIANT_EDITS)
def test_variant_change_of_a_running_experiment_is_refused(edit, fields: list[str]) -> None:
    current = make_experiment(salt="cart-case")
    desired = make_experiment(variants=edit(current.variants))

    entry = only_entry(desired, current)

    assert entry.action == "change"
    assert [change.field for change in entry.changes] == fields
    assert entry.refused is not None
    assert entry.refused.startswith("experiment 'cart-case' is running: changing ")
    assert all(field in entry.refused for field in fields)


def test_control_change_of_a_running_experiment_is_refused() -> None:
    entry = only_entry(make_experiment(control="case"), make_experiment(salt="cart-case"))

    assert entry.changes == (FieldChange("control", "no-offer", "case"),)
    assert entry.refused is not None


def test_variant_change_of_a_paused_experiment_is_allowed() -> None:
    current = make_experiment(salt="cart-case", status=ExperimentStatus.PAUSED)
    variants = (current.variants[0], replace(current.variants[1], payload={"price": 9.9}))

    entry = only_entry(replace(current, variants=variants), current)

    assert entry.action == "change"
    assert entry.refused is None


def test_renaming_a_variant_of_a_running_experiment_is_allowed() -> None:
    current = make_experiment(salt="cart-case")
    variants = (current.variants[0], replace(current.variants[1], name="Silicone case"))

    entry = only_entry(replace(current, variants=variants), current)

    assert entry.changes == (FieldChange("variants.case.name", "Case", "Silicone case"),)
    assert entry.refused is None


def test_weights_rounded_to_basis_points_are_unchanged() -> None:
    thirds = tuple(Variant(key, key, 1 / 3) for key in ("a", "b", "c"))
    stored = tuple(Variant(key, key, 0.3333) for key in ("a", "b", "c"))

    entry = only_entry(
        make_experiment(variants=thirds, control="a"),
        make_experiment(variants=stored, control="a", salt="cart-case"),
    )

    assert entry.action == "unchanged"


def test_bandit_settings_are_compared_field_by_field() -> None:
    current = make_experiment(allocation=AllocationKind.THOMPSON, salt="cart-case")
    desired = replace(current, bandit=BanditSettings(update_interval_seconds=600))

    entry = only_entry(desired, current)

    assert entry.changes == (FieldChange("bandit.update_interval_seconds", 3600, 600),)
    assert entry.refused is None


def test_stored_experiments_missing_from_the_yaml_are_listed_as_unmanaged() -> None:
    plan = plan_changes([make_experiment()], {"old-one": make_experiment(key="old-one")})

    assert plan.unmanaged == ("old-one",)
    assert [entry.action for entry in plan.entries] == ["create"]


def test_plan_groups_pending_and_refused_entries() -> None:
    running = make_experiment(salt="cart-case")
    other = make_experiment(key="other", salt="other")
    desired = [
        replace(running, control="case"),
        replace(other, name="Renamed"),
        make_experiment(key="new"),
    ]

    plan = plan_changes(desired, {"cart-case": running, "other": other})

    assert [entry.key for entry in plan.refusals] == ["cart-case"]
    assert [entry.key for entry in plan.pending] == ["other", "new"]


def test_describe_plan_reads_like_a_dry_run() -> None:
    current = make_experiment(salt="cart-case")
    plan = plan_changes([replace(current, name="New name", control="case")], {"cart-case": current})

    lines = describe_plan(plan)

    assert lines[:3] == [
        "change cart-case",
        "  name: 'Case in the cart' -> 'New name'",
        "  control: 'no-offer' -> 'case'",
    ]
    assert lines[3].startswith("  refused: experiment 'cart-case' is running")
