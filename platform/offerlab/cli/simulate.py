"""`offerlab simulate SCENARIO.yaml`: compare allocation policies on synthetic visitors."""

from __future__ import annotations

import json
from pathlib import Path

import click

from offerlab.simulation.plot import plot_runs
from offerlab.simulation.report import render_table, summaries_as_dicts, summarise
from offerlab.simulation.runner import simulate
from offerlab.simulation.scenario import ScenarioError, load_scenario


@click.command("simulate")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--seed", type=click.IntRange(min=0), default=1, show_default=True, help="First seed."
)
@click.option(
    "--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Number of seeds."
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a PNG of cumulative regret and allocation over time.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def simulate_command(
    scenario_file: Path, seed: int, seeds: int, plot_path: Path | None, output_format: str
) -> None:
    """Run SCENARIO_FILE's policies, the fixed split and the oracle on seeds SEED..SEED+SEEDS-1."""
    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as error:
        raise click.ClickException(str(error)) from None
    try:
        results = simulate(scenario, range(seed, seed + seeds))
    except ValueError as error:
        raise click.ClickException(f"{scenario_file}: {error}") from None
    summaries = summarise(results)
    if plot_path is not None:
        arms = [arm.name for arm in scenario.arms]
        plot_runs(
            results,
            arms,
            plot_path,
            revenue=scenario.objective != "conversion",
            title=scenario.name,
        )
    if output_format == "json":
        document = {
            "scenario": scenario.name,
            "horizon": scenario.horizon,
            "objective": str(scenario.objective),
            "seeds": list(range(seed, seed + seeds)),
            "policies": summaries_as_dicts(summaries),
        }
        click.echo(json.dumps(document, indent=2, allow_nan=False))
    else:
        click.echo(render_table(summaries, scenario=scenario.name, horizon=scenario.horizon))
