"""Experiments as code: load, validate and diff the YAML definitions analysts write."""

from offerlab.definitions.loader import LoadResult, load_definitions
from offerlab.definitions.plan import FieldChange, Plan, PlanEntry, plan_changes
from offerlab.definitions.problems import DefinitionProblem
from offerlab.definitions.schema import (
    BanditDefinition,
    ExperimentDefinition,
    OfferDefinition,
    VariantDefinition,
    experiment_json_schema,
)

__all__ = [
    "BanditDefinition",
    "DefinitionProblem",
    "ExperimentDefinition",
    "FieldChange",
    "LoadResult",
    "OfferDefinition",
    "Plan",
    "PlanEntry",
    "VariantDefinition",
    "experiment_json_schema",
    "load_definitions",
    "plan_changes",
]
