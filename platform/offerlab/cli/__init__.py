"""The `offerlab` command line: thin commands over the services."""

from __future__ import annotations

import click

from offerlab import __version__
from offerlab.cli.analyze import analyze_command
from offerlab.cli.definitions import schema_command, validate_command
from offerlab.cli.operations import (
    apply_command,
    bandits,
    db,
    guardrails,
    keys,
    report_command,
    status_command,
)
from offerlab.cli.planning import power_command
from offerlab.cli.serve import demo_command, serve_command
from offerlab.cli.simulate import simulate_command


@click.group()
@click.version_option(__version__, prog_name="offerlab")
def main() -> None:
    """offerlab: A/B experiments and bandits for upsell and cross-sell offers."""


main.add_command(validate_command, "validate")
main.add_command(schema_command, "schema")
main.add_command(apply_command, "apply")
main.add_command(report_command, "report")
main.add_command(status_command, "status")
main.add_command(serve_command, "serve")
main.add_command(demo_command, "demo")
main.add_command(power_command, "power")
main.add_command(analyze_command, "analyze")
main.add_command(simulate_command, "simulate")
main.add_command(db)
main.add_command(keys)
main.add_command(bandits)
main.add_command(guardrails)
