"""Synthetic visitors with known truths, driven through the real allocation and SDK hashing."""

from offerlab.simulation.runner import RunResult, run_learner, simulate
from offerlab.simulation.scenario import ScenarioDefinition, ScenarioError, load_scenario

__all__ = [
    "RunResult",
    "ScenarioDefinition",
    "ScenarioError",
    "load_scenario",
    "run_learner",
    "simulate",
]
