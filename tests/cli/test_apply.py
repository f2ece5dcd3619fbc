"""`offerlab apply`: experiments-as-code written to the database idempotently, or not at all."""

from __future__ import annotations

import json
import re
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
KEYS = (
    "cart-accessory-cross-sell",
    "checkout-protection-plan-upsell",
    "product-page-premium-upsell",
)
CHECKOUT = "checkout-protection-plan-upsell"
PRODUCT_PAGE = "product-page-premium-upsell"


def stored_experiments(database_url: str) -> dict[str, object]:
    from offerlab.storage import experiments as store
    from offerlab.storage.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return {experiment.key: experiment for experiment in store.list_experiments(session)}
    finally:
        engine.dispose()


def report(invoke, key: str) -> dict:  # type: ignore[no-untyped-def]
    result = invoke("report", key, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_first_apply_creates_the_three_examples(invoke, database_url):
    result = invoke("apply", EXPERIMENTS)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("create ")) == [
        f"create {key}" for key in KEYS
    ]
    assert lines[-1] == "3 created, 0 changed, 0 unchanged"
    stored = stored_experiments(database_url)
    assert sorted(stored) == list(KEYS)
    assert [v.key for v in stored["cart-accessory-cross-sell"].variants] == [
        "no-offer",
        "case",
        "screen-protector",
        "fast-charger",
    ]


def test_second_apply_reports_unchanged_and_writes_nothing(
    applied, database_url, database_contents
):
    before = database_contents(database_url)
    assert len(before["experiments"]) == 3
    assert len(before["allocations"]) == 3

    result = applied("apply", EXPERIMENTS)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "0 created, 0 changed, 3 unchanged"
    assert not any(line.startswith(("create ", "change ")) for line in result.stdout.splitlines())
    assert database_contents(database_url) == before


def test_dry_run_on_a_fresh_database_shows_the_plan_and_writes_nothing(
    invoke, database_url, database_contents
):
    before = database_contents(database_url)

    result = invoke("apply", "--dry-run", EXPERIMENTS)

    assert result.exit_code == 0, result.output
    assert "create cart-accessory-cross-sell" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == (
        "dry run, nothing written: 3 created, 0 changed, 0 unchanged"
    )
    assert database_contents(database_url) == before
    assert stored_experiments(database_url) == {}
    missing = invoke("report", "cart-accessory-cross-sell")
    assert missing.exit_code != 0
    assert "'cart-accessory-cross-sell' does not exist" in missing.stderr


def test_renaming_an_experiment_shows_the_field_change_and_applies_it(
    applied, database_url, experiments_copy
):
    edit(
        experiments_copy / f"{PRODUCT_PAGE}.yaml",
        "name: 512 GB upgrade on the Phone X product page",
        "name: Storage upgrade on the product page",
    )

    dry = applied("apply", "--dry-run", experiments_copy)

    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    change = lines.index(f"change {PRODUCT_PAGE}")
    assert lines[change + 1] == (
        "  name: '512 GB upgrade on the Phone X product page' -> "
        "'Storage upgrade on the product page'"
    )
    assert lines[-1] == "dry run, nothing written: 0 created, 1 changed, 2 unchanged"
    assert stored_experiments(database_url)[PRODUCT_PAGE].name.startswith("512 GB")

    real = applied("apply", experiments_copy)

    assert real.exit_code == 0, real.output
    assert real.stdout.splitlines()[-1] == "0 created, 1 changed, 2 unchanged"
    assert report(applied, PRODUCT_PAGE)["experiment"]["name"] == (
        "Storage upgrade on the product page"
    )
    assert applied("apply", experiments_copy).stdout.splitlines()[-1] == (
        "0 created, 0 changed, 3 unchanged"
    )


def test_changing_a_weight_of_a_running_experiment_is_refused_and_nothing_is_written(
    applied, database_url, experiments_copy, database_contents
):
    path = experiments_copy / f"{CHECKOUT}.yaml"
    edit(
        path,
        "name: Protection plan at 49 EUR\n    weight: 0.34",
        "name: Protection plan at 49 EUR\n    weight: 0.40",
    )
    edit(
        path,
        "name: Protection plan at 29 EUR\n    weight: 0.33",
        "name: Protection plan at 29 EUR\n    weight: 0.27",
    )
    edit(path, "name: Protection plan price at checkout", "name: Protection plan prices")
    before = database_contents(database_url)

    result = applied("apply", experiments_copy)

    assert result.exit_code != 0
    assert f"change {CHECKOUT}" in result.stdout.splitlines()
    assert "  variants.price-49.weight: 0.34 -> 0.4" in result.stdout.splitlines()
    refusal = next(line for line in result.stdout.splitlines() if "refused:" in line)
    assert f"experiment '{CHECKOUT}' is running" in refusal
    assert "variants.price-49.weight" in refusal
    assert "pause or stop it first" in refusal
    assert "1 change(s) refused; nothing applied" in result.stderr
    # All or nothing: the harmless rename in the same file is not written either.
    assert database_contents(database_url) == before


def test_a_weight_change_is_accepted_once_the_experiment_is_paused(
    applied, database_url, experiments_copy
):
    path = experiments_copy / f"{CHECKOUT}.yaml"
    edit(path, "status: running", "status: paused")
    edit(
        path,
        "name: Protection plan at 49 EUR\n    weight: 0.34",
        "name: Protection plan at 49 EUR\n    weight: 0.40",
    )
    edit(
        path,
        "name: Protection plan at 29 EUR\n    weight: 0.33",
        "name: Protection plan at 29 EUR\n    weight: 0.27",
    )
    assert applied("status", CHECKOUT, "paused").exit_code == 0

    result = applied("apply", experiments_copy)

    assert result.exit_code == 0, result.output
    history = report(applied, CHECKOUT)["allocation_history"]
    assert [epoch["version"] for epoch in history] == [1, 2]
    assert history[-1]["weights"] == {"price-49": 0.4, "price-39": 0.33, "price-29": 0.27}


def test_a_broken_yaml_file_is_reported_as_file_line_field_message(
    invoke, database_url, experiments_copy, database_contents
):
    path = experiments_copy / f"{CHECKOUT}.yaml"
    edit(path, "traffic: 1.0", "traffic: 1.5")
    edit(
        path,
        "name: Protection plan at 49 EUR\n    weight: 0.34",
        "name: Protection plan at 49 EUR\n    weight: 0.24",
    )
    before = database_contents(database_url)

    result = invoke("apply", experiments_copy)

    assert result.exit_code != 0
    problems = [line for line in result.stderr.splitlines() if not line.startswith("Error:")]
    assert len(problems) == 2
    for line in problems:
        assert re.fullmatch(rf"{re.escape(str(path))}:\d+: [\w.\[\]-]+: .+", line), line
    assert any(line.startswith(f"{path}:10: traffic: ") for line in problems), problems
    assert f"{path}:16: variants: weights must sum to 1, not 0.9" in problems
    assert "2 problem(s) found; nothing applied" in result.stderr
    assert result.stdout == ""
    # The valid files in the same folder are not applied either.
    assert database_contents(database_url) == before


def test_a_malformed_yaml_file_names_its_line(invoke, experiments_copy):
    path = experiments_copy / f"{CHECKOUT}.yaml"
    edit(path, "kind: upsell", "kind: upsell: again")

    result = invoke("apply", experiments_copy)

    assert result.exit_code != 0
    assert result.stderr.startswith(f"{path}:7: ")
    assert "Traceback" not in result.output


def test_a_missing_path_is_a_problem_and_nothing_is_applied(invoke, database_url, tmp_path):
    missing = tmp_path / "nowhere"

    result = invoke("apply", missing)

    assert result.exit_code != 0
    assert f"{missing}: no such file or directory" in result.stderr.splitlines()
    assert stored_experiments(database_url) == {}
