"""Commands that read or change the database: apply, report, status, db, keys, bandits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
import numpy as np
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from offerlab.definitions import load_definitions
from offerlab.definitions.plan import describe_plan
from offerlab.domain.model import ExperimentStatus
from offerlab.errors import OfferlabError
from offerlab.services.bandits import update_allocations
from offerlab.services.experiments import apply_definitions, set_status
from offerlab.services.monitor import enforce_guardrails
from offerlab.services.report_json import report_to_dict
from offerlab.services.reporting import experiment_report
from offerlab.settings import Settings
from offerlab.storage import keys as key_store
from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
from offerlab.storage.migrate import is_current, upgrade


def utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def database_session(settings: Settings | None = None) -> Iterator[Session]:
    """One transaction on the configured database, which must be migrated to the newest schema."""
    settings = settings or Settings()
    try:
        engine = make_engine(settings.database_url)
    except ArgumentError as error:
        raise click.ClickException(f"DATABASE_URL is not a database URL: {error}") from error
    try:
        if not is_current(engine):
            raise click.ClickException(
                f"the database {engine.url.render_as_string(hide_password=True)} is not at the "
                "newest schema: run `offerlab db upgrade` first"
            )
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    except OfferlabError as error:
        raise click.ClickException(error.detail) from error
    except OperationalError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise click.ClickException(f"cannot use the database {where}: {error.orig}") from error
    finally:
        engine.dispose()


@click.command("apply")
@click.argument("path", type=click.Path(path_type=Path), default=Path("experiments"))
@click.option("--dry-run", is_flag=True, help="Show what would change and write nothing.")
def apply_command(path: Path, dry_run: bool) -> None:
    """Write the experiments defined in PATH to the database, idempotently."""
    loaded = load_definitions(path)
    if loaded.problems:
        for problem in loaded.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(loaded.problems)} problem(s) found; nothing applied")
    with database_session() as session:
        plan = apply_definitions(session, loaded.experiments, now=utc_now(), dry_run=dry_run)
    for line in describe_plan(plan):
        click.echo(line)
    counts = {
        action: sum(e.action == action for e in plan.entries)
        for action in ("create", "change", "unchanged")
    }
    summary = ", ".join(
        f"{n} {action}d" if action != "unchanged" else f"{n} unchanged"
        for action, n in counts.items()
    )
    if plan.refusals:
        raise click.ClickException(
            f"{len(plan.refusals)} change(s) refused; nothing applied ({summary} planned)"
        )
    click.echo(f"{'dry run, nothing written: ' if dry_run else ''}{summary}")


@click.command("report")
@click.argument("key")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
def report_command(key: str, output_format: str) -> None:
    """Print the results of experiment KEY."""
    with database_session() as session:
        report = report_to_dict(experiment_report(session, key, now=utc_now()))
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    elif output_format == "csv":
        click.echo(_report_csv(report), nl=False)
    else:
        click.echo(_report_table(report))


REPORT_COLUMNS = (
    "variant",
    "units",
    "impressions",
    "acceptances",
    "conversion_rate",
    "orders",
    "average_order_value",
    "revenue_per_unit",
)
UPLIFT_METRICS = ("conversion", "average_order_value", "revenue_per_unit")


def _report_rows(report: dict) -> Iterator[dict]:
    for variant in report["variants"]:
        row = {column: variant[column] for column in REPORT_COLUMNS}
        for metric in UPLIFT_METRICS:
            comparison = variant["comparisons"].get(metric) or {}
            row[f"{metric}_uplift"] = comparison.get("relative_uplift")
            ci = comparison.get("relative_ci") or {}
            row[f"{metric}_uplift_low"] = ci.get("low")
            row[f"{metric}_uplift_high"] = ci.get("high")
            row[f"{metric}_p_value"] = comparison.get("p_value")
            row[f"{metric}_significant"] = comparison.get("significant")
        yield row


def _report_csv(report: dict) -> str:
    rows = list(_report_rows(report))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else list(REPORT_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _report_table(report: dict) -> str:
    experiment = report["experiment"]
    lines = [
        f"{experiment['name']} ({experiment['key']}) - {experiment['status']}, "
        f"{experiment['placement']}, {experiment['offer_kind']}, alpha {experiment['alpha']}"
    ]
    header = (
        "variant",
        "units",
        "accepted",
        "conv",
        "orders",
        "AOV",
        "RPV",
        "conv uplift [CI]",
        "p",
        "AOV uplift [CI]",
        "p",
    )
    table = [header]
    for variant in report["variants"]:
        table.append(_table_row(variant))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        lines.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )
    lines.extend(_report_notes(report))
    return "\n".join(lines)


def _report_notes(report: dict) -> Iterator[str]:
    """The warnings and methods a reader must know to trust the table."""
    settings = report.get("settings") or {}
    if settings:
        mode = "sequential (always valid)" if settings["sequential"] else "fixed horizon"
        yield f"* significant: {settings['significance_rule']}, {settings['correction']}, {mode}"
    ratio = report.get("sample_ratio") or {}
    if ratio.get("unhealthy"):
        yield f"UNHEALTHY: sample ratio mismatch (p = {ratio['p_value']:.2g}); do not trust results"
    for guardrail in report.get("guardrails", []):
        if guardrail["violated"]:
            where = f"{guardrail['metric']} of {guardrail['variant']}"
            yield f"GUARDRAIL: {where} is significantly worse than the control"
    capping = report.get("capping")
    if capping and capping.get("cap") is not None:
        yield f"order values capped at {capping['cap']:.2f} ({capping['orders_capped']} orders)"
    if capping and capping.get("refunds"):
        yield f"{capping['refunds']} refunds ({capping['refund_value']:.2f}) netted from revenue"
    reduction = report.get("variance_reduction")
    if reduction and reduction.get("used"):
        narrowing = reduction.get("interval_narrowing") or 0.0
        yield f"CUPED on {reduction['covariate']}: intervals {narrowing:.0%} narrower"


def _table_row(variant: dict) -> tuple:
    def uplift(metric: str) -> tuple[str, str]:
        comparison = variant["comparisons"].get(metric)
        if not comparison or comparison.get("absolute_uplift") is None:
            return ("-", "-")
        mark = "*" if comparison["significant"] else ""
        p_value = comparison.get("p_value")
        return (_uplift_text(comparison) + mark, "-" if p_value is None else f"{p_value:.4f}")

    rate = variant["conversion_rate"]
    aov = variant["average_order_value"]
    rpv = variant["revenue_per_unit"]
    name = variant["variant"] + (" (control)" if variant["is_control"] else "")
    return (
        name,
        variant["units"],
        variant["converted_units"],
        "-" if rate is None else f"{rate:.2%}",
        variant["orders"],
        "-" if aov is None else f"{aov:.2f}",
        "-" if rpv is None else f"{rpv:.2f}",
        *uplift("conversion"),
        *uplift("average_order_value"),
    )


def _uplift_text(comparison: dict) -> str:
    """Relative uplift with its CI; absolute when the control's value is zero or only the
    absolute interval agrees with the significance verdict (as on the dashboards)."""
    if comparison.get("relative_uplift") is not None and _relative_agrees(comparison):
        ci = comparison.get("relative_ci") or {}
        return (
            f"{comparison['relative_uplift']:+.1%} "
            f"[{_signed_pct(ci.get('low'))}, {_signed_pct(ci.get('high'))}]"
        )
    ci = comparison.get("absolute_ci") or {}
    return (
        f"{comparison['absolute_uplift']:+.4g} abs "
        f"[{_signed(ci.get('low'))}, {_signed(ci.get('high'))}]"
    )


def _relative_agrees(comparison: dict) -> bool:
    def excludes_zero(interval: dict | None) -> bool | None:
        return None if not interval else interval["low"] > 0 or interval["high"] < 0

    significant = comparison.get("significant")
    relative = excludes_zero(comparison.get("relative_ci"))
    absolute = excludes_zero(comparison.get("absolute_ci"))
    return relative is None or relative == significant or absolute != significant


def _signed_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4g}"


@click.command("status")
@click.argument("key")
@click.argument("status", type=click.Choice([s.value for s in ExperimentStatus]))
def status_command(key: str, status: str) -> None:
    """Set the status of experiment KEY (draft, running, paused, stopped)."""
    with database_session() as session:
        set_status(session, key, ExperimentStatus(status), now=utc_now())
    click.echo(f"{key}: {status}")


@click.group("db")
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema with the migrations."""
    settings = Settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@click.group("keys")
def keys() -> None:
    """API keys (sdk, viewer, admin)."""


@keys.command("create")
@click.option("--role", type=click.Choice(key_store.ROLES), required=True)
@click.option("--name", required=True)
def keys_create(role: str, name: str) -> None:
    """Create a key and print its secret once; only a hash is stored."""
    with database_session() as session:
        row, secret = key_store.create_key(session, role=role, name=name, now=utc_now())
        prefix = row.prefix
    click.echo(f"created {role} key {prefix!r} ({name}); the secret is shown only now:")
    click.echo(secret)


@keys.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    with database_session() as session:
        for row in key_store.list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.prefix}\t{row.role}\t{row.name}\t{state}")


@keys.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with PREFIX."""
    with database_session() as session:
        if not key_store.revoke_key(session, prefix, now=utc_now()):
            raise click.ClickException(f"no key with prefix {prefix!r}")
    click.echo(f"revoked {prefix}")


@click.group("guardrails")
def guardrails() -> None:
    """Guardrail metrics."""


@guardrails.command("check")
def guardrails_check() -> None:
    """Pause every running experiment whose guardrail is violated (with auto_pause_on_guardrail)."""
    with database_session() as session:
        paused = enforce_guardrails(session, now=utc_now())
    for key in paused:
        click.echo(f"paused {key}: a guardrail is significantly worse than the control")
    if not paused:
        click.echo("no guardrail violated")


@click.group("bandits")
def bandits() -> None:
    """Bandit allocation."""


@bandits.command("update")
@click.option("--force", is_flag=True, help="Re-weight even when the interval has not passed.")
@click.option("--seed", type=int, default=None)
def bandits_update(force: bool, seed: int | None) -> None:
    """Start a new allocation epoch for every due bandit experiment."""
    with database_session() as session:
        updates = update_allocations(
            session, now=utc_now(), rng=np.random.default_rng(seed), force=force
        )
    for update in updates:
        weights = ", ".join(f"{k} {w:.1%}" for k, w in update.weights.items())
        click.echo(f"{update.experiment} v{update.version}: {weights}")
    if not updates:
        click.echo("no bandit was due")
