"""`offerlab db upgrade`, and every database command's refusal to run on an old schema."""

from __future__ import annotations

from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
EXPECTED_TABLES = {"experiments", "variants", "allocations", "events", "exposures", "api_keys"}


def test_db_upgrade_creates_the_schema_and_a_second_run_changes_nothing(
    empty_database_url, cli_on, table_names, database_contents
):
    invoke = cli_on(empty_database_url)

    first = invoke("db", "upgrade")

    assert first.exit_code == 0, first.output
    assert first.stdout == "database at head\n"
    tables = table_names(empty_database_url)
    assert EXPECTED_TABLES <= tables
    assert "alembic_version" in tables
    before = database_contents(empty_database_url)

    second = invoke("db", "upgrade")

    assert second.exit_code == 0, second.output
    assert table_names(empty_database_url) == tables
    assert database_contents(empty_database_url) == before


def test_the_schema_made_by_db_upgrade_is_usable(empty_database_url, cli_on):
    invoke = cli_on(empty_database_url)
    assert invoke("db", "upgrade").exit_code == 0

    applied = invoke("apply", EXPERIMENTS)

    assert applied.exit_code == 0, applied.output
    assert "3 created" in applied.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("apply", str(EXPERIMENTS)),
        ("apply", "--dry-run", str(EXPERIMENTS)),
        ("report", "cart-accessory-cross-sell"),
        ("status", "cart-accessory-cross-sell", "paused"),
        ("keys", "list"),
        ("keys", "create", "--role", "viewer", "--name", "x"),
        ("bandits", "update"),
    ],
    ids=lambda command: " ".join(c for c in command if "/" not in c),
)
def test_commands_on_a_database_without_schema_name_db_upgrade(
    empty_database_url, cli_on, table_names, command
):
    result = cli_on(empty_database_url)(*command)

    assert result.exit_code != 0
    assert "run `offerlab db upgrade` first" in result.stderr
    assert "Traceback" not in result.output
    assert table_names(empty_database_url) == set()


def test_a_database_at_an_older_revision_is_refused_until_upgraded(empty_database_url, cli_on):
    invoke = cli_on(empty_database_url)
    assert invoke("db", "upgrade", "--revision", "0001").exit_code == 0

    refused = invoke("apply", EXPERIMENTS)

    assert refused.exit_code != 0
    assert "offerlab db upgrade" in refused.stderr
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("apply", EXPERIMENTS).exit_code == 0


def test_a_database_that_cannot_be_opened_fails_with_a_one_line_message(cli_on, tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'offerlab.db'}"

    result = cli_on(unreachable)("keys", "list")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "unable to open database file" in result.stderr
