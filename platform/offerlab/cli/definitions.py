"""`offerlab validate` and `offerlab schema`: experiments-as-code checks that need no database."""

from __future__ import annotations

from pathlib import Path

import click

from offerlab.definitions.loader import load_definitions
from offerlab.definitions.reference import render_field_reference, render_json_schema


@click.command("validate")
@click.argument("path", type=click.Path(path_type=Path), default=Path("experiments"))
@click.pass_context
def validate_command(context: click.Context, path: Path) -> None:
    """Check experiment YAML files and report every problem as file:line: field: message."""
    result = load_definitions(path)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems:
        files = len({problem.path for problem in result.problems})
        click.echo(
            f"{_count(len(result.problems), 'problem')} in {_count(files, 'file')}", err=True
        )
        context.exit(1)
    click.echo(f"{_count(len(result.experiments), 'experiment')} OK")


@click.command("schema")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="JSON Schema, or the Markdown field reference used in experiments/README.md.",
)
def schema_command(output: Path | None, output_format: str) -> None:
    """Print the JSON Schema of an experiment YAML file."""
    text = render_json_schema() if output_format == "json" else render_field_reference()
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
