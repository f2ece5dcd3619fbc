"""Simulation scenarios as YAML: arms with known truths, segments, seasonality, policies.

Errors are reported as ``file:line: field: message``, with the lines of the YAML source.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from offerlab.definitions.messages import describe_error
from offerlab.definitions.problems import DefinitionProblem, format_location
from offerlab.definitions.yaml_source import YamlDocument, read_yaml
from offerlab.domain.bandits import AllocationSettings, PolicyName, RewardObjective

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueDefinition(_Strict):
    """Value of one success: a constant, or lognormal with the given mean and log-sd sigma."""

    distribution: Literal["constant", "lognormal"] = "constant"
    mean: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 1.0
    sigma: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0

    def log_mu(self) -> float:
        """The lognormal's mu such that its mean is ``mean``: log(mean) - sigma^2 / 2."""
        return math.log(self.mean) - self.sigma**2 / 2.0 if self.mean > 0 else -math.inf


class ArmDefinition(_Strict):
    """One arm and its true acceptance rate and value distribution."""

    name: Name
    acceptance: Share
    value: ValueDefinition = ValueDefinition()


class SegmentDefinition(_Strict):
    """One level of the segment attribute: its share of visitors and acceptance overrides."""

    name: Name
    share: Annotated[float, Field(gt=0.0, le=1.0)]
    acceptance: dict[str, Share] = {}


class SegmentsDefinition(_Strict):
    """The declared segment attribute (e.g. device) and its levels."""

    attribute: Name
    levels: Annotated[list[SegmentDefinition], Field(min_length=1)]

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> SegmentsDefinition:
        if abs(sum(level.share for level in self.levels) - 1.0) > 1e-9:
            raise ValueError("segment shares must sum to 1")
        return self


class SeasonalityDefinition(_Strict):
    """Daily cycle: acceptance times ``1 + amplitude * sin(2 pi t / period)``."""

    period: Annotated[int, Field(ge=2)]
    amplitude: Annotated[float, Field(ge=0.0, lt=1.0)]


class ChangeDefinition(_Strict):
    """From impression ``at`` on, some arms get new acceptance rates or mean values."""

    at: Annotated[int, Field(ge=1)]
    acceptance: dict[str, Share] = {}
    value_mean: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = {}


class PolicyDefinition(_Strict):
    """A policy to compare: a display name plus any ``AllocationSettings`` field."""

    name: Name
    policy: PolicyName
    objective: RewardObjective | None = None
    burn_in_units: Annotated[int, Field(ge=0)] | None = None
    min_share: Fraction | None = None
    holdout_share: Fraction | None = None
    max_weight_change: Annotated[float, Field(gt=0.0)] | None = None
    measurement_share: Share | None = None
    epsilon: Share | None = None
    epsilon_decay: Annotated[float, Field(gt=0.0)] | None = None
    prior_alpha: Annotated[float, Field(gt=0.0)] | None = None
    prior_beta: Annotated[float, Field(gt=0.0)] | None = None
    draws: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    chance_to_be_best_threshold: Share | None = None
    expected_loss_threshold: Annotated[float, Field(ge=0.0)] | None = None
    expected_loss_relative: bool | None = None
    auto_rollout: bool | None = None
    segment_attribute: Name | None = None
    prior_strength: Annotated[float, Field(ge=0.0)] | None = None

    def settings(self, default_objective: RewardObjective) -> AllocationSettings:
        """The validated ``AllocationSettings`` (the scenario's objective unless overridden)."""
        given = self.model_dump(exclude={"name"}, exclude_none=True)
        given.setdefault("objective", default_objective)
        return AllocationSettings(**given)

    @model_validator(mode="after")
    def _settings_are_valid(self) -> PolicyDefinition:
        self.settings(RewardObjective.CONVERSION)
        return self


class ScenarioDefinition(_Strict):
    """A whole scenario: truths, traffic, objective and the policies to compare."""

    name: Name
    description: str = ""
    horizon: Annotated[int, Field(ge=1, le=10_000_000)]
    batch_size: Annotated[int, Field(ge=1)] = 1000
    objective: RewardObjective = RewardObjective.CONVERSION
    control: Name | None = None
    arms: Annotated[list[ArmDefinition], Field(min_length=2, max_length=50)]
    segments: SegmentsDefinition | None = None
    seasonality: SeasonalityDefinition | None = None
    change: ChangeDefinition | None = None
    policies: Annotated[list[PolicyDefinition], Field(min_length=1)]

    @model_validator(mode="after")
    def _names_are_consistent(self) -> ScenarioDefinition:
        arms = [arm.name for arm in self.arms]
        _unique(arms, "arm names must be unique")
        _unique([p.name for p in self.policies], "policy names must be unique")
        if self.control is not None and self.control not in arms:
            raise ValueError(f"control {self.control!r} is not one of the arms")
        named = [*(self.change.acceptance if self.change else {})]
        named += [*(self.change.value_mean if self.change else {})]
        for level in self.segments.levels if self.segments else []:
            named += list(level.acceptance)
        unknown = sorted(set(named) - set(arms))
        if unknown:
            raise ValueError(f"unknown arm(s) {', '.join(unknown)}")
        if self.change is not None and self.change.at >= self.horizon:
            raise ValueError("change.at must be before the horizon")
        for index, policy in enumerate(self.policies):
            if policy.settings(self.objective).min_share * len(arms) > 1.0 + 1e-12:
                raise ValueError(f"policies[{index}]: min_share * number of arms must be <= 1")
        return self

    @property
    def control_index(self) -> int:
        """Index of the control arm (the first arm unless ``control`` names another)."""
        names = [arm.name for arm in self.arms]
        return names.index(self.control) if self.control else 0


class ScenarioError(Exception):
    """Every problem of a scenario file, one ``file:line: field: message`` per line."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_scenario(path: Path) -> ScenarioDefinition:
    """Read and validate a scenario file; raises ``ScenarioError`` listing every problem."""
    try:
        document = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(
            [DefinitionProblem(path, None, "", f"cannot read file: {error}")]
        ) from None
    problems = [
        DefinitionProblem(path, i.line, format_location(i.location), i.message)
        for i in document.issues
    ]
    if problems:
        raise ScenarioError(problems)
    if not isinstance(document.data, dict):
        raise ScenarioError(
            [DefinitionProblem(path, 1, "", "the file must be a mapping of fields")]
        )
    try:
        return ScenarioDefinition.model_validate(document.data)
    except ValidationError as error:
        raise ScenarioError(_problems(path, document, error)) from None


def _problems(
    path: Path, document: YamlDocument, error: ValidationError
) -> list[DefinitionProblem]:
    problems = []
    for details in error.errors(include_url=False):
        location = tuple(details["loc"])
        text = document.scalar_texts.get(location)
        message = describe_error(details, source_text=text)
        problems.append(
            DefinitionProblem(path, document.line_of(location), format_location(location), message)
        )
    return problems


def _unique(names: list[str], message: str) -> None:
    if len(set(names)) != len(names):
        raise ValueError(message)
