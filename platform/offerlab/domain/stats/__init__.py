"""Statistics over per-variant sufficient statistics: comparisons, intervals, the analysis engine.

The analysis modules import ``offerlab.domain.reports``, which itself imports
``offerlab.domain.stats.sufficient``. Loading them lazily (PEP 562) lets either package be
imported first without a circular-import error.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from offerlab.domain.stats.sufficient import VariantTotals

if TYPE_CHECKING:
    from offerlab.domain.stats.engine import analyse
    from offerlab.domain.stats.frequentist import (
        MeanStats,
        compare_means,
        compare_proportions,
        wilson_interval,
    )

_LAZY_EXPORTS = {
    "MeanStats": "frequentist",
    "compare_means": "frequentist",
    "compare_proportions": "frequentist",
    "wilson_interval": "frequentist",
    "analyse": "engine",
}

__all__ = [
    "MeanStats",
    "VariantTotals",
    "analyse",
    "compare_means",
    "compare_proportions",
    "wilson_interval",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value
