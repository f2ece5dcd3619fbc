"""Per-epoch sample-ratio check for bandits, against scipy's chisquare with Bonferroni."""

import json

import pytest
from scipy import stats as sps

from offerlab.domain.stats.engine import EpochUnits, VariantSums, analyse
from offerlab.domain.stats.srm_epochs import check_epochs

NAMES = ["control", "b", "c"]


def variants():
    return [VariantSums(name, 3_000, 100, 0.0, 0.0, 0.0, 0.0, 0.0) for name in NAMES]


def expected_counts(units, weights):
    total = sum(units)
    return [total * w / sum(weights) for w in weights]


def test_each_epoch_is_tested_against_its_own_weights():
    epochs = [
        EpochUnits(1, {"control": 1_010, "b": 990, "c": 1_000}, {"control": 1, "b": 1, "c": 1}),
        EpochUnits(2, {"control": 610, "b": 1_190, "c": 200}, {"control": 0.3, "b": 0.6, "c": 0.1}),
        EpochUnits(3, {"control": 300, "b": 300, "c": 900}, {"control": 0.2, "b": 0.2, "c": 0.6}),
    ]
    report = analyse(variants(), epochs=epochs)
    check = report.sample_ratio
    assert check.method == "per_epoch" and check.statistic is None
    for epoch, result in zip(epochs, check.epochs, strict=True):
        units = [epoch.units[n] for n in NAMES]
        weights = [epoch.weights[n] for n in NAMES]
        reference = sps.chisquare(units, expected_counts(units, weights))
        assert result.statistic == pytest.approx(reference.statistic, rel=1e-9)
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
        assert result.adjusted_p_value == pytest.approx(min(1.0, 3 * reference.pvalue), rel=1e-9)
        assert result.tested and result.skipped_reason is None
    assert not check.unhealthy
    assert check.p_value == min(e.adjusted_p_value for e in check.epochs)


def test_one_broken_epoch_makes_the_experiment_unhealthy_after_bonferroni():
    healthy = EpochUnits(1, {"control": 500, "b": 500, "c": 500}, {"control": 1, "b": 1, "c": 1})
    broken = EpochUnits(2, {"control": 440, "b": 560, "c": 500}, {"control": 1, "b": 1, "c": 1})
    p_broken = sps.chisquare([440, 560, 500]).pvalue
    assert 0.0005 < p_broken < 0.001  # significant alone, not after doubling
    only_broken = analyse(variants(), epochs=[broken]).sample_ratio
    both = analyse(variants(), epochs=[healthy, broken]).sample_ratio
    assert only_broken.unhealthy
    assert not both.unhealthy
    assert both.epochs[1].adjusted_p_value == pytest.approx(2 * p_broken, rel=1e-9)
    very_broken = EpochUnits(
        3, {"control": 300, "b": 700, "c": 500}, {"control": 1, "b": 1, "c": 1}
    )
    assert analyse(variants(), epochs=[healthy, very_broken]).sample_ratio.unhealthy


def test_untestable_epochs_are_skipped_with_a_reason():
    epochs = [
        EpochUnits(1, {"control": 4, "b": 5, "c": 5}, {"control": 1, "b": 1, "c": 1}),
        EpochUnits(2, {"control": 900}, {"control": 1.0, "b": 0.0, "c": 0.0}),
        EpochUnits(3, {"control": 500, "b": 520, "c": 480}, {"control": 1, "b": 1, "c": 1}),
    ]
    results = check_epochs(epochs, NAMES)
    assert [r.skipped_reason for r in results] == ["too_few_units", "one_variant", None]
    assert [r.tested for r in results] == [False, False, True]
    # Only one epoch was tested, so its p-value is not adjusted.
    assert results[2].adjusted_p_value == results[2].p_value


def test_zero_weight_variants_are_left_out_and_units_there_are_unhealthy():
    left_out = EpochUnits(1, {"control": 510, "b": 490}, {"control": 1.0, "b": 1.0, "c": 0.0})
    (result,) = check_epochs([left_out], NAMES)
    assert result.p_value == pytest.approx(sps.chisquare([510, 490]).pvalue, rel=1e-9)
    stray = EpochUnits(2, {"control": 510, "b": 490, "c": 3}, {"control": 1.0, "b": 1.0})
    report = analyse(variants(), epochs=[left_out, stray])
    assert report.sample_ratio.unhealthy
    assert report.sample_ratio.epochs[1].skipped_reason == "units_at_zero_weight"


def test_no_testable_epoch_gives_no_p_value_and_stays_json_safe():
    report = analyse(variants(), epochs=[])
    check = report.sample_ratio
    assert check.p_value is None and not check.unhealthy and check.error == "no_units"
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["sample_ratio"]["method"] == "per_epoch" and data["sample_ratio"]["epochs"] == []


@pytest.mark.parametrize(
    ("epochs", "message"),
    [
        ([EpochUnits(1, {"zz": 1}, {"zz": 1.0})], "unknown variants"),
        ([EpochUnits(1, {"b": -1}, {"b": 1.0})], "must be a count"),
        ([EpochUnits(1, {"b": 1}, {"b": float("nan")})], "must be >= 0"),
        ([EpochUnits(1, {}, {}), EpochUnits(1, {}, {})], "unique"),
    ],
)
def test_invalid_epochs_raise(epochs, message):
    with pytest.raises(ValueError, match=message):
        check_epochs(epochs, NAMES)
