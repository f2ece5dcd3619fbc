import math
from pathlib import Path

import pytest

from offerlab.definitions import load_definitions
from offerlab.domain.model import (
    KNOWN_PLACEMENTS,
    AllocationKind,
    ExperimentStatus,
    Objective,
    OfferKind,
)

ROOT = Path(__file__).resolve().parents[2]

BROKEN_FIXTURES = [
    (
        "unknown_field.yaml",
        [
            "fixtures/unknown_field.yaml:5: colour: unknown field",
            "fixtures/unknown_field.yaml:14: variants[1].size: unknown field",
        ],
    ),
    (
        "duplicate_key.yaml",
        [
            "fixtures/duplicate_key.yaml:5: name: duplicate key (first defined on line 2)",
            "fixtures/duplicate_key.yaml:14: variants[1].weight: duplicate key "
            "(first defined on line 13)",
        ],
    ),
    (
        "weights.yaml",
        [
            "fixtures/weights.yaml:6: variants: weights must sum to 1, not 0.9",
            "fixtures/weights.yaml:15: variants[2].weight: must be > 0",
        ],
    ),
    (
        "missing_control.yaml",
        [
            "fixtures/missing_control.yaml:1: control: is required",
            "fixtures/missing_control.yaml:9: variants[1].name: is required",
        ],
    ),
    (
        "unknown_control.yaml",
        [
            "fixtures/unknown_control.yaml:5: control: 'nothing' is not a variant key "
            "(variants: no-offer, case, case)",
            "fixtures/unknown_control.yaml:13: variants[2].key: duplicate variant key 'case'",
            "fixtures/unknown_control.yaml:15: variants[2].weight: must be > 0",
        ],
    ),
    (
        "unknown_placement_and_kind.yaml",
        [
            "fixtures/unknown_placement_and_kind.yaml:3: placement: unknown placement "
            "'mini_cart' (known: product_page, cart, checkout, post_purchase, email)",
            "fixtures/unknown_placement_and_kind.yaml:4: kind: "
            "must be 'upsell' or 'cross_sell', not 'bundle'",
        ],
    ),
    (
        "bad_types.yaml",
        [
            "fixtures/bad_types.yaml:1: key: must be lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit",
            'fixtures/bad_types.yaml:2: name: must be a string; quote the value: "42"',
            "fixtures/bad_types.yaml:5: traffic: must be a number",
            "fixtures/bad_types.yaml:6: attribution_window_hours: must be an integer",
            "fixtures/bad_types.yaml:7: alpha: must be < 0.5",
            "fixtures/bad_types.yaml:12: variants[0].weight: must be a number",
            "fixtures/bad_types.yaml:17: variants[1].offer.sku: "
            'must be a string; quote the value: "012"',
            "fixtures/bad_types.yaml:19: variants[1].offer.discount: must be <= 1",
            "fixtures/bad_types.yaml:20: variants[1].offer.currency: "
            "must be a three-letter ISO 4217 code such as EUR",
        ],
    ),
    (
        "bandit.yaml",
        [
            "fixtures/bandit.yaml:6: bandit: only allowed with a bandit allocation"
            " (thompson, epsilon_greedy, ucb1)",
            "fixtures/bandit.yaml:7: bandit.update_interval_seconds: must be >= 10",
            "fixtures/bandit.yaml:8: bandit.min_share: 0.6 for each of 2 variants exceeds 1",
            "fixtures/bandit.yaml:17: variants[1].offer.currency: is required when price is set",
        ],
    ),
    (
        "one_variant.yaml",
        ["fixtures/one_variant.yaml:6: variants: must have at least 2 variants, not 1"],
    ),
    (
        "malformed.yaml",
        ["fixtures/malformed.yaml:9: invalid YAML: mapping values are not allowed here"],
    ),
    ("empty.yaml", ["fixtures/empty.yaml: file is empty"]),
    ("not_a_mapping.yaml", ["fixtures/not_a_mapping.yaml:1: the file must be a mapping of fields"]),
]


@pytest.mark.parametrize(
    ("fixture", "expected"), BROKEN_FIXTURES, ids=[row[0] for row in BROKEN_FIXTURES]
)
def test_broken_fixture_reports_every_problem_with_its_line(
    in_tests_folder: Path, fixture: str, expected: list[str]
) -> None:
    result = load_definitions(Path("fixtures") / fixture)

    assert [str(problem) for problem in result.problems] == expected
    assert result.experiments == ()
    assert not result.ok


def test_yaml_1_1_words_stay_strings(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/yaml11_traps.yaml"))

    assert result.problems == ()
    (experiment,) = result.experiments
    assert experiment.control == "no"
    assert [variant.key for variant in experiment.variants] == ["no", "on"]
    offer = experiment.variant("on").payload
    assert offer["sku"] == "012"
    assert offer["message"] == "yes"
    assert offer["price"] == 10.0  # 0o12 is YAML 1.2's explicit octal


def test_unquoted_leading_zero_sku_is_never_read_as_octal(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/bad_types.yaml"))

    sku_problems = [p for p in result.problems if p.field == "variants[1].offer.sku"]
    assert [p.message for p in sku_problems] == ['must be a string; quote the value: "012"']


def test_problem_carries_path_line_field_and_message(in_tests_folder: Path) -> None:
    (problem, _) = load_definitions(Path("fixtures/weights.yaml")).problems

    assert problem.path == Path("fixtures/weights.yaml")
    assert problem.line == 6
    assert problem.field == "variants"
    assert problem.message == "weights must sum to 1, not 0.9"


def test_duplicate_experiment_keys_across_files_are_reported(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/duplicate_keys"))

    assert [str(problem) for problem in result.problems] == [
        "fixtures/duplicate_keys/second.yml:1: key: duplicate experiment key 'same-key' "
        "(first defined in fixtures/duplicate_keys/first.yaml:2)"
    ]
    assert [experiment.name for experiment in result.experiments] == ["First"]
    assert result.sources == {"same-key": (Path("fixtures/duplicate_keys/first.yaml"), 2)}


def test_directory_reads_only_yaml_files_directly_inside(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/duplicate_keys"))

    assert {problem.path.name for problem in result.problems} == {"second.yml"}


def test_declared_placements_extend_the_known_ones(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/placements"))

    assert result.placements == (*KNOWN_PLACEMENTS, "mini_cart")
    assert [experiment.placement for experiment in result.experiments] == ["mini_cart"]
    assert [str(problem) for problem in result.problems] == [
        "fixtures/placements/placements.yaml:4: placements[1].key: duplicate placement 'mini_cart'",
        "fixtures/placements/placements.yaml:5: placements[2].key: must be lowercase letters, "
        "digits, '-' or '_', starting with a letter or digit",
        "fixtures/placements/sidebar.yaml:3: placement: unknown placement 'sidebar' "
        "(known: product_page, cart, checkout, post_purchase, email, mini_cart)",
    ]


def test_single_file_sees_placements_declared_next_to_it(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/placements/mini-cart.yaml"))

    assert [experiment.key for experiment in result.experiments] == ["mini-cart-cross-sell"]
    assert all(problem.path.name == "placements.yaml" for problem in result.problems)


def test_missing_path_is_a_problem(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/nowhere"))

    assert [str(problem) for problem in result.problems] == [
        "fixtures/nowhere: no such file or directory"
    ]


def test_non_yaml_file_is_a_problem(in_tests_folder: Path) -> None:
    result = load_definitions(Path("fixtures/duplicate_keys/notes.txt"))

    assert [p.message for p in result.problems] == ["not a .yaml or .yml file"]


def test_absolute_path_below_cwd_is_shown_relative(in_tests_folder: Path) -> None:
    result = load_definitions(in_tests_folder / "fixtures" / "empty.yaml")

    assert str(result.problems[0]) == "fixtures/empty.yaml: file is empty"


def test_shipped_examples_validate() -> None:
    result = load_definitions(ROOT / "experiments")

    assert result.problems == ()
    assert sorted(result.sources) == [
        "cart-accessory-cross-sell",
        "checkout-protection-plan-upsell",
        "product-page-premium-upsell",
    ]
    assert all(e.status == ExperimentStatus.RUNNING for e in result.experiments)
    for experiment in result.experiments:
        assert math.isclose(sum(v.weight for v in experiment.variants), 1.0, abs_tol=1e-6)


def test_shipped_examples_match_their_briefs() -> None:
    experiments = {e.key: e for e in load_definitions(ROOT / "experiments").experiments}

    premium = experiments["product-page-premium-upsell"]
    assert (premium.placement, premium.offer_kind) == ("product_page", OfferKind.UPSELL)
    assert premium.allocation == AllocationKind.FIXED
    assert premium.variant(premium.control).payload == {}
    assert len(premium.variants) == 3

    accessories = experiments["cart-accessory-cross-sell"]
    assert (accessories.placement, accessories.offer_kind) == ("cart", OfferKind.CROSS_SELL)
    assert accessories.allocation == AllocationKind.THOMPSON
    assert accessories.control == "no-offer"
    assert len(accessories.variants) == 4

    protection = experiments["checkout-protection-plan-upsell"]
    prices = [variant.payload["price"] for variant in protection.variants]
    assert (protection.placement, prices) == ("checkout", [49.0, 39.0, 29.0])
    assert protection.allocation == AllocationKind.FIXED


def test_to_domain_maps_every_field(in_tests_folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "full.yaml"
    source.write_text(
        "key: full\nname: Full\ndescription: >\n  Two\n  lines\nplacement: email\n"
        "kind: upsell\nstatus: paused\ntraffic: 0.25\nallocation: thompson\n"
        "objective: revenue\nattribution_window_hours: 48\nalpha: 0.1\nsalt: Salt_1\n"
        "bandit: {update_interval_seconds: 60, min_share: 0.2}\ncontrol: a\nvariants:\n"
        "  - {key: a, name: A, weight: 0.5}\n"
        "  - {key: b, name: B, weight: 0.5, offer: {price: 5, currency: USD, bundle: [x, y]}}\n",
        encoding="utf-8",
    )

    result = load_definitions(source)

    assert result.problems == ()
    (experiment,) = result.experiments
    assert experiment.description == "Two lines"
    assert (experiment.placement, experiment.offer_kind) == ("email", OfferKind.UPSELL)
    assert experiment.status == ExperimentStatus.PAUSED
    assert (experiment.traffic, experiment.alpha) == (0.25, 0.1)
    assert experiment.objective == Objective.REVENUE
    assert experiment.attribution_window_hours == 48
    assert experiment.salt == "Salt_1"
    assert (experiment.bandit.update_interval_seconds, experiment.bandit.min_share) == (60, 0.2)
    assert experiment.variant("b").payload == {
        "price": 5.0,
        "currency": "USD",
        "bundle": ["x", "y"],
    }


def test_salt_stays_empty_when_not_set(in_tests_folder: Path) -> None:
    (experiment,) = load_definitions(Path("fixtures/yaml11_traps.yaml")).experiments

    assert experiment.salt == ""
    assert experiment.effective_salt == "yaml-traps"
