"""Multiplicity for the engine: adjusted p-values and the interval level of each comparison,
chosen so that an interval excludes 0 exactly when its comparison is significant."""

from __future__ import annotations

from collections.abc import Sequence

from offerlab.domain.stats.corrections import adjust_p_values


def adjust(p_values: Sequence[float | None], correction: str) -> list[float | None]:
    tested = [p for p in p_values if p is not None]
    adjusted = iter(adjust_p_values(tested, correction))  # type: ignore[arg-type]
    return [None if p is None else next(adjusted) for p in p_values]


def interval_alphas(p_values: Sequence[float | None], correction: str, alpha: float) -> list[float]:
    """Per-comparison interval levels that agree with the adjusted-p decision (docs/analysis.md).

    Holm: the rank-i comparison (ascending p, 0-based) is tested at alpha / (m − i); a rejected
    one gets that level, the others the level of the first step that failed. BH: all get
    alpha · max(R, 1) / m with R rejections (Benjamini & Yekutieli 2005 FCR intervals).
    """
    tested = [p for p in p_values if p is not None]
    if correction == "holm":
        levels = iter(holm_levels(tested, alpha))
    elif correction == "bh":
        levels = iter([bh_level(tested, alpha)] * len(tested))
    else:
        levels = iter([alpha] * len(tested))
    return [alpha if p is None else next(levels) for p in p_values]


def bh_level(tested: Sequence[float], alpha: float) -> float:
    m = len(tested)
    if m == 0:
        return alpha
    ordered = sorted(tested)
    rejected = [j + 1 for j, p in enumerate(ordered) if p * m / (j + 1) < alpha]
    return alpha * max(rejected, default=1) / m


def holm_levels(tested: Sequence[float], alpha: float) -> list[float]:
    m = len(tested)
    order = sorted(range(m), key=lambda index: tested[index])
    levels = [0.0] * m
    stopped: float | None = None
    for rank, index in enumerate(order):
        step = alpha / (m - rank)
        if stopped is None and not tested[index] * (m - rank) < alpha:
            stopped = step
        levels[index] = step if stopped is None else stopped
    return levels
