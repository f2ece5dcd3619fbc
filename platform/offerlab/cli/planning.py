"""`offerlab power`: how many units and days an experiment needs."""

from __future__ import annotations

import click

from offerlab.domain.stats.power import days_needed, units_needed


@click.command("power")
@click.option("--baseline", type=float, required=True, help="Control conversion rate, e.g. 0.03.")
@click.option(
    "--mde",
    type=float,
    required=True,
    help="Smallest relative lift worth detecting, e.g. 0.10 for +10%.",
)
@click.option("--variants", type=int, default=2, show_default=True, help="Including the control.")
@click.option("--daily-units", type=float, default=None, help="Units entering per day.")
@click.option(
    "--traffic",
    type=float,
    default=1.0,
    show_default=True,
    help="Share of units in the experiment.",
)
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--power", "power_", type=float, default=0.8, show_default=True)
@click.option(
    "--correction",
    type=click.Choice(["holm", "bonferroni", "none"]),
    default="holm",
    show_default=True,
    help="Multiple-comparison correction across variants.",
)
def power_command(
    baseline: float,
    mde: float,
    variants: int,
    daily_units: float | None,
    traffic: float,
    alpha: float,
    power_: float,
    correction: str,
) -> None:
    """Units per variant (and days) for a two-proportion test to detect a relative lift."""
    try:
        per_variant = units_needed(
            baseline, mde, alpha=alpha, power=power_, variants=variants, correction=correction
        )  # type: ignore[arg-type]
        days = (
            days_needed(per_variant, variants, daily_units, traffic)
            if daily_units is not None
            else None
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    click.echo(
        f"baseline {baseline:.2%}, detect {mde:+.1%} relative "
        f"({baseline:.2%} -> {baseline * (1 + mde):.2%}), alpha {alpha}, power {power_:.0%}, "
        f"{variants} variants, {correction} correction"
    )
    click.echo(f"units per variant: {per_variant:,}")
    click.echo(f"units in total:    {per_variant * variants:,}")
    if days is not None:
        click.echo(f"days at {daily_units:,.0f} units/day and {traffic:.0%} traffic: {days}")
