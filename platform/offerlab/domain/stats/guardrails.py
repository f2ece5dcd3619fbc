"""Guardrail metrics: flag a variant that makes a metric significantly worse than the control.

Each (variant, guardrail) pair gets a one-sided test in the guardrail's bad direction at level
alpha, from the same comparison the engine uses for that metric (two-proportion z, Welch,
delta-method ratio; CUPED for revenue per unit when the covariate is given). The two-sided
p-value p of those symmetric statistics becomes p/2 when the observed change points the bad
way and 1 − p/2 otherwise. The intervals shown are two-sided at 1 − 2·alpha, so their bound on
the bad side is the one-sided 1 − alpha bound: it lies beyond 0 exactly when the guardrail is
violated (for the Welch and ratio metrics; for proportions the pooled p and unpooled interval
can disagree at the margin).

No multiplicity correction: a guardrail exists to catch harm, and a correction would trade
missed harm for fewer false alarms. Guardrails are read at a fixed horizon even in sequential
mode; repeated looks raise the false-alarm rate, which errs on the same, cautious side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from offerlab.domain.reports import Comparison, Interval, ResultError
from offerlab.domain.stats.cuped import fit_cuped
from offerlab.domain.stats.engine_inputs import VariantSums, check_variant_list
from offerlab.domain.stats.engine_metrics import (
    ACCEPTANCE_VALUE_PER_UNIT,
    AVERAGE_ORDER_VALUE,
    CONVERSION,
    ORDERS_PER_UNIT,
    REFUND_RATE,
    REVENUE_PER_UNIT,
    available_metrics,
    compare_metric,
)
from offerlab.domain.stats.frequentist import check_alpha

WorseWhen = Literal["lower", "higher"]
DEFAULT_WORSE_WHEN: dict[str, WorseWhen] = {
    CONVERSION: "lower",
    REVENUE_PER_UNIT: "lower",
    AVERAGE_ORDER_VALUE: "lower",
    ORDERS_PER_UNIT: "lower",
    ACCEPTANCE_VALUE_PER_UNIT: "lower",
    REFUND_RATE: "higher",
}
MISSING_INPUTS = "missing_inputs"
"""Error code of a guardrail whose metric's inputs some variant lacks."""


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not get worse; `worse_when` defaults per metric (DEFAULT_WORSE_WHEN)."""

    metric: str
    worse_when: WorseWhen | None = None

    def __post_init__(self) -> None:
        if self.metric not in DEFAULT_WORSE_WHEN:
            raise ValueError(
                f"unknown guardrail metric {self.metric!r}; use any of {tuple(DEFAULT_WORSE_WHEN)}"
            )
        if self.worse_when is None:
            object.__setattr__(self, "worse_when", DEFAULT_WORSE_WHEN[self.metric])
        elif self.worse_when not in ("lower", "higher"):
            raise ValueError("worse_when must be 'lower' or 'higher'")


@dataclass(frozen=True)
class GuardrailResult:
    """One guardrail for one variant; `violated` = significantly worse, one-sided, at alpha."""

    metric: str
    variant: str
    worse_when: str
    control_value: float | None
    variant_value: float | None
    absolute_change: float | None
    absolute_ci: Interval | None
    relative_change: float | None
    relative_ci: Interval | None
    p_value: float | None
    interval_level: float
    violated: bool
    error: str | None = None


def default_guardrails(variants: Sequence[VariantSums]) -> tuple[Guardrail, ...]:
    """Refund rate (higher is worse) when every variant gives refunded units; else none."""
    return (Guardrail(REFUND_RATE),) if REFUND_RATE in available_metrics(variants) else ()


def evaluate_guardrails(
    variants: Sequence[VariantSums],
    guardrails: Sequence[Guardrail],
    *,
    alpha: float,
) -> tuple[GuardrailResult, ...]:
    """One result per non-control variant × guardrail, in that order (method: module docstring)."""
    check_alpha(alpha)
    check_variant_list(variants)
    if guardrails and not alpha < 0.5:
        raise ValueError("guardrails need alpha below 0.5 (one-sided test at alpha)")
    available = available_metrics(variants)
    fit = fit_cuped(variants)
    cuped = fit.adjustment if fit is not None else None
    control = variants[0]
    results = []
    for variant in variants[1:]:
        for guardrail in guardrails:
            if guardrail.metric not in available:
                results.append(_missing(guardrail, variant.variant, alpha))
                continue
            comparison = compare_metric(control, variant, guardrail.metric, 2.0 * alpha, cuped)
            results.append(_result(guardrail, variant.variant, comparison, alpha))
    return tuple(results)


def _result(
    guardrail: Guardrail, variant: str, comparison: Comparison, alpha: float
) -> GuardrailResult:
    p_value = _one_sided_p(comparison, guardrail.worse_when)
    return GuardrailResult(
        metric=guardrail.metric,
        variant=variant,
        worse_when=str(guardrail.worse_when),
        control_value=comparison.control_value,
        variant_value=comparison.variant_value,
        absolute_change=comparison.absolute_uplift,
        absolute_ci=comparison.absolute_ci,
        relative_change=comparison.relative_uplift,
        relative_ci=comparison.relative_ci,
        p_value=p_value,
        interval_level=1.0 - 2.0 * alpha,
        violated=p_value is not None and p_value < alpha,
        error=None if comparison.error is None else ResultError(comparison.error).value,
    )


def _one_sided_p(comparison: Comparison, worse_when: str | None) -> float | None:
    if comparison.p_value is None or comparison.absolute_uplift is None:
        return None
    change = comparison.absolute_uplift
    points_bad_way = change < 0.0 if worse_when == "lower" else change > 0.0
    half = comparison.p_value / 2.0
    return half if points_bad_way else 1.0 - half


def _missing(guardrail: Guardrail, variant: str, alpha: float) -> GuardrailResult:
    return GuardrailResult(
        metric=guardrail.metric,
        variant=variant,
        worse_when=str(guardrail.worse_when),
        control_value=None,
        variant_value=None,
        absolute_change=None,
        absolute_ci=None,
        relative_change=None,
        relative_ci=None,
        p_value=None,
        interval_level=1.0 - 2.0 * alpha,
        violated=False,
        error=MISSING_INPUTS,
    )
