"""`offerlab analyze FILE.csv`: analyse an experiment from per-variant sums in a CSV file."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import click

from offerlab.domain.reports import Interval
from offerlab.domain.stats.engine import (
    ENGINE_CORRECTIONS,
    LOWER_IS_BETTER,
    METRICS,
    AnalysisReport,
    Guardrail,
    InvalidSums,
    MetricComparison,
    VariantSums,
    analyse,
)

REQUIRED_COLUMNS = (
    "variant",
    "units",
    "conversions",
    "revenue_sum",
    "revenue_sum_sq",
    "orders_sum",
    "orders_sum_sq",
    "revenue_orders_sum_prod",
)
OPTIONAL_GROUPS = (
    ("covariate_sum", "covariate_sum_sq", "revenue_covariate_sum_prod"),
    ("acceptance_value_sum", "acceptance_value_sum_sq"),
    ("refunded_units",),
)
"""Optional column groups: a group's columns come together; empty cells mean 'not given'."""
_COUNT_COLUMNS = ("units", "conversions", "refunded_units")
_METRIC_LABELS = {
    "conversion": "Conversion",
    "revenue_per_unit": "Revenue per visitor",
    "average_order_value": "Average order value",
    "orders_per_unit": "Orders per visitor",
    "acceptance_value_per_unit": "Offer value per visitor",
    "refund_rate": "Refund rate",
}
_RATE_METRICS = ("conversion", "refund_rate")


class CsvProblem(click.ClickException):
    """A problem in the input file, shown as `FILE:line: column: message`."""

    def __init__(self, path: Path, line: int, column: str, message: str) -> None:
        super().__init__(f"{path}:{line}: {column}: {message}")


@click.command("analyze")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "table"]),
    default="table",
    show_default=True,
)
@click.option(
    "--alpha",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level.",
)
@click.option(
    "--sequential", is_flag=True, help="Always-valid p-values and intervals (peeking-safe)."
)
@click.option(
    "--planned-units",
    type=click.IntRange(min=1),
    default=None,
    help="Units the experiment plans to reach (sequential tuning; default: current).",
)
@click.option(
    "--correction",
    type=click.Choice(ENGINE_CORRECTIONS),
    default="holm",
    show_default=True,
    help="Multiple-comparison correction over all comparisons.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(METRICS),
    help="Decision metric to compare (repeatable; default: all whose columns are given, "
    "except refund_rate).",
)
@click.option(
    "--guardrail",
    "guardrails",
    multiple=True,
    metavar="METRIC[:lower|higher]",
    help="Guardrail metric, optionally with the direction that is worse (repeatable; "
    "default: refund_rate when the refunded_units column is given).",
)
def analyze_command(
    file: Path,
    output_format: str,
    alpha: float,
    sequential: bool,
    planned_units: int | None,
    correction: str,
    metrics: tuple[str, ...],
    guardrails: tuple[str, ...],
) -> None:
    """Compare every variant of FILE.csv with the control (the first row)."""
    parsed_guardrails = [_guardrail(text) for text in guardrails] if guardrails else None
    variants = read_variant_sums(file)
    report = analyse(
        variants,
        alpha=alpha,
        correction=correction,  # type: ignore[arg-type]
        sequential=sequential,
        planned_units=planned_units,
        metrics=metrics or None,
        guardrails=parsed_guardrails,
    )
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        click.echo(render_table(report))


def _guardrail(text: str) -> Guardrail:
    metric, _, direction = text.partition(":")
    try:
        return Guardrail(metric.strip(), direction.strip() or None)  # type: ignore[arg-type]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--guardrail") from error


def read_variant_sums(path: Path) -> list[VariantSums]:
    """Rows of the CSV as `VariantSums`; any problem raises `CsvProblem` with its line."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column in REQUIRED_COLUMNS:
            if column not in columns:
                raise CsvProblem(path, 1, column, "missing column")
        has_weight = "weight" in columns
        optional = _optional_columns(path, columns)
        variants = [_parse_row(path, reader.line_num, row, has_weight, optional) for row in reader]
        last_line = reader.line_num
    _check_rows(path, variants, last_line)
    return [variant for variant, _line in variants]


def _optional_columns(path: Path, columns: list[str]) -> tuple[str, ...]:
    """The optional columns present; a group with only some of its columns is an error."""
    present: list[str] = []
    for group in OPTIONAL_GROUPS:
        given = [column for column in group if column in columns]
        if given and len(given) < len(group):
            missing = next(column for column in group if column not in columns)
            raise CsvProblem(path, 1, missing, f"missing column (needed with {given[0]})")
        present.extend(given)
    return tuple(present)


def _parse_row(
    path: Path,
    line: int,
    row: dict[str, str | None],
    has_weight: bool,
    optional: tuple[str, ...],
) -> tuple[VariantSums, int]:
    values: dict[str, object] = {"variant": _cell(path, line, row, "variant")}
    for column in REQUIRED_COLUMNS[1:]:
        values[column] = _number(path, line, column, _cell(path, line, row, column))
    if has_weight:
        values["weight"] = _number(path, line, "weight", _cell(path, line, row, "weight"))
    for column in optional:
        text = (row.get(column) or "").strip()
        if text:
            values[column] = _number(path, line, column, text)
    try:
        return VariantSums(**values), line  # type: ignore[arg-type]
    except InvalidSums as error:
        raise CsvProblem(path, line, error.field, error.message) from error


def _cell(path: Path, line: int, row: dict[str, str | None], column: str) -> str:
    text = (row.get(column) or "").strip()
    if not text:
        raise CsvProblem(path, line, column, "missing value")
    return text


def _number(path: Path, line: int, column: str, text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise CsvProblem(path, line, column, f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise CsvProblem(path, line, column, f"not a finite number: {text!r}")
    if column in _COUNT_COLUMNS:
        if not value.is_integer():
            raise CsvProblem(path, line, column, f"not a whole number: {text!r}")
        return int(value)
    return value


def _check_rows(path: Path, variants: list[tuple[VariantSums, int]], last_line: int) -> None:
    if len(variants) < 2:
        raise CsvProblem(
            path, last_line + 1, "variant", "at least two rows are needed (the control first)"
        )
    seen: set[str] = set()
    for variant, line in variants:
        if variant.variant in seen:
            raise CsvProblem(path, line, "variant", f"duplicate variant {variant.variant!r}")
        seen.add(variant.variant)


def render_table(report: AnalysisReport) -> str:
    """The report as plain-text tables for people who decide, not for machines."""
    lines = [*_header(report), "", *_variant_table(report), "", *_comparison_table(report)]
    if report.guardrails:
        lines += ["", *_guardrail_table(report)]
    return "\n".join(lines)


def _header(report: AnalysisReport) -> list[str]:
    mode = "sequential (safe to check any time)" if report.sequential else "fixed-horizon"
    lines = [
        f"Control: {report.control}. Significance level {report.alpha:g}, "
        f"{report.correction} correction over {report.comparisons_tested} comparisons, {mode}.",
        f"'Significant' means {report.significance_rule}; each change interval is at the level "
        f"that matches that decision ({report.interval_rule.replace('_', ' ')}).",
        _traffic_line(report),
    ]
    reduction = report.variance_reduction
    if reduction is not None and reduction.covariate_used:
        narrowing = reduction.interval_narrowing
        lines.append(
            "Revenue per visitor is adjusted for the pre-period covariate (CUPED)"
            + ("." if narrowing is None else f"; its intervals are {narrowing:.0%} narrower.")
        )
    elif reduction is not None:
        lines.append("The pre-period covariate could not be used (it does not vary).")
    return lines


def _traffic_line(report: AnalysisReport) -> str:
    srm = report.sample_ratio
    if srm.unhealthy:
        evidence = "" if srm.p_value is None else f" (p = {srm.p_value:.2g})"
        scope = " in at least one allocation epoch" if srm.method == "per_epoch" else ""
        return (
            f"WARNING: traffic split does not match the plan{scope}{evidence}; "
            "do not trust these results until the assignment is fixed."
        )
    if srm.p_value is None:
        return "Traffic split: not checked (too few units)."
    return f"Traffic split: as planned (p = {srm.p_value:.2f})."


def _variant_table(report: AnalysisReport) -> list[str]:
    with_value = any(v.acceptance_value_per_unit is not None for v in report.variants)
    with_refunds = any(v.refund_rate is not None for v in report.variants)
    header = ["Variant", "Visitors", "Conversion", "Revenue/visitor", "AOV", "Orders/visitor"]
    header += ["Offer value/visitor"] * with_value + ["Refund rate"] * with_refunds
    rows = [[*header, "Chance best"]]
    for v in report.variants:
        row = [
            v.variant + (" (control)" if v.is_control and v.variant != "control" else ""),
            f"{v.units:,}",
            _rate(v.conversion_rate, v.conversion_ci),
            _money(v.revenue_per_unit),
            _money(v.average_order_value),
            "-" if v.orders_per_unit is None else f"{v.orders_per_unit:.3f}",
        ]
        row += [_money(v.acceptance_value_per_unit)] * with_value
        row += ["-" if v.refund_rate is None else f"{v.refund_rate:.2%}"] * with_refunds
        rows.append([*row, _percent(v.chance_to_be_best_conversion)])
    return _aligned(rows)


def _guardrail_table(report: AnalysisReport) -> list[str]:
    rows = [["Variant", "Guardrail", "Worse when", "Relative change", "p (one-sided)", "Status"]]
    for g in report.guardrails:
        if g.error is not None and g.p_value is None:
            status = f"not computable ({g.error.replace('_', ' ')})"
        else:
            status = "VIOLATED" if g.violated else "ok"
        rows.append(
            [
                g.variant,
                _METRIC_LABELS.get(g.metric, g.metric),
                g.worse_when,
                "-" if g.relative_change is None else f"{g.relative_change:+.1%}",
                "-" if g.p_value is None else f"{g.p_value:.3f}",
                status,
            ]
        )
    return _aligned(rows)


def _comparison_table(report: AnalysisReport) -> list[str]:
    rows = [
        [
            "Variant",
            "Metric",
            "Control",
            "Variant",
            "Change (interval)",
            "Relative",
            "p adj.",
            "Chance to beat",
            "Verdict",
        ]
    ]
    for item in report.comparisons:
        c = item.comparison
        rows.append(
            [
                item.variant,
                _METRIC_LABELS.get(item.metric, item.metric),
                _value(item.metric, c.control_value),
                _value(item.metric, c.variant_value),
                _change(item.metric, c.absolute_uplift, c.absolute_ci),
                "-" if c.relative_uplift is None else f"{c.relative_uplift:+.1%}",
                "-" if item.adjusted_p_value is None else f"{item.adjusted_p_value:.3f}",
                _percent(item.chance_to_beat_control),
                _verdict(item),
            ]
        )
    return _aligned(rows)


def _verdict(item: MetricComparison) -> str:
    c = item.comparison
    if c.error is not None:
        return f"not computable ({c.error.value.replace('_', ' ')})"
    if not item.significant:
        return "no clear difference"
    higher = (c.absolute_uplift or 0.0) > 0
    return "better" if higher != (item.metric in LOWER_IS_BETTER) else "worse"


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return [line.rstrip() for line in lines]


def _rate(rate: float | None, interval: Interval | None) -> str:
    if rate is None or interval is None:
        return "-"
    return f"{rate:.2%} ({interval.low:.2%} to {interval.high:.2%})"


def _change(metric: str, uplift: float | None, interval: Interval | None) -> str:
    if uplift is None or interval is None:
        return "-"
    if metric == "orders_per_unit":
        return f"{uplift:+.3f} ({interval.low:+.3f} to {interval.high:+.3f})"
    if metric in _RATE_METRICS:
        return f"{uplift * 100:+.2f} pp ({interval.low * 100:+.2f} to {interval.high * 100:+.2f})"
    return f"{uplift:+,.2f} ({interval.low:+,.2f} to {interval.high:+,.2f})"


def _value(metric: str, value: float | None) -> str:
    if metric in _RATE_METRICS:
        return "-" if value is None else f"{value:.2%}"
    if metric == "orders_per_unit":
        return "-" if value is None else f"{value:.3f}"
    return _money(value)


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
