"""Pydantic models mirroring the experiment YAML, their mapping to domain objects, and the schema.

Field-level rules (types, ranges, unknown fields) live on the models; rules that relate several
fields (weights, control, bandit block, placement) live in `cross_field_issues`, which works on
the raw document so that they are reported together with the field-level problems.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

from offerlab.definitions.bandit import BanditDefinition, bandit_issues, bandit_to_domain
from offerlab.definitions.fields import (
    WEIGHT_TOLERANCE,
    AttributeName,
    Currency,
    Issue,
    Key,
    Number,
    Salt,
    Text,
    number_or_none,
)
from offerlab.domain.model import (
    GUARDRAIL_METRICS,
    KNOWN_PLACEMENTS,
    AllocationKind,
    AnalysisSettings,
    Correction,
    Experiment,
    ExperimentStatus,
    GuardrailSetting,
    Objective,
    OfferKind,
    PowerPlan,
    Variant,
    default_worse_when,
)

MIN_VARIANTS = 2


class OfferDefinition(BaseModel):
    """The offer payload the storefront renders; extra fields are passed through unchanged."""

    model_config = ConfigDict(extra="allow", frozen=True)

    product: Text | None = Field(None, description="Name of the offered product or plan.")
    sku: Text | None = Field(None, description='Stock keeping unit; quote numeric SKUs ("012").')
    price: Number | None = Field(None, ge=0, description="Offer price in `currency`.")
    discount: Number | None = Field(
        None, ge=0, le=1, description="Discount as a fraction: 0.10 is 10 % off."
    )
    currency: Currency | None = Field(
        None, description="ISO 4217 code such as EUR; required when `price` is set."
    )
    message: Text | None = Field(None, description="Text shown to the shopper.")
    margin: Number | None = Field(
        None,
        ge=0,
        le=1,
        description="Share of the offer's value the shop keeps (0.3 is 30 %); "
        "the reward of objective: margin is offer value x margin.",
    )


class VariantDefinition(BaseModel):
    """One variant (arm) of the experiment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Key = Field(description="Stable id: lowercase letters, digits, '-' and '_'.")
    name: Text = Field(description="Human-readable name shown in dashboards.")
    weight: Number = Field(
        gt=0, le=1, description="Share of the experiment's traffic; weights sum to 1."
    )
    offer: OfferDefinition | None = Field(
        None, description="The offer shown; omit it for a no-offer control."
    )


class GuardrailDefinition(BaseModel):
    """A metric that must not get significantly worse than in the control."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal[GUARDRAIL_METRICS] = Field(  # type: ignore[valid-type]
        description="The guarded metric: " + ", ".join(GUARDRAIL_METRICS) + "."
    )
    worse_when: Literal["lower", "higher"] | None = Field(
        None, description="Direction of harm; refund_rate: higher, the others: lower."
    )


class PowerDefinition(BaseModel):
    """The conversion test the experiment is sized for; the dashboard shows progress toward it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimum_detectable_effect: Number = Field(
        gt=0, le=10, description="Relative lift to detect: 0.10 is +10 % conversion."
    )
    baseline: Number | None = Field(
        None, gt=0, lt=1, description="Control conversion rate; the observed one when omitted."
    )
    power: Number = Field(0.8, ge=0.5, lt=1, description="Chance to detect the effect.")
    daily_units: StrictInt | None = Field(
        None, ge=1, description="Expected exposed visitors a day; observed when omitted."
    )


class AnalysisDefinition(BaseModel):
    """How results are computed (all optional; the defaults are a fixed-horizon Holm analysis)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    correction: Correction = Field(
        Correction.HOLM,
        description="Multiple-comparison correction over variants and metrics: holm, bh or none.",
    )
    sequential: StrictBool = Field(
        False, description="Always-valid p-values and intervals: safe to look every day."
    )
    planned_units: StrictInt | None = Field(
        None, ge=2, description="Expected exposed visitors in total; tunes the sequential test."
    )
    winsorize_percentile: Number | None = Field(
        None, gt=0.5, lt=1, description="Cap order values at this percentile, e.g. 0.99."
    )
    order_value_cap: Number | None = Field(
        None, gt=0, description="Cap order values at this amount instead of a percentile."
    )
    covariate: AttributeName | None = Field(
        None,
        description="Visitor attribute with a pre-period value (e.g. spend_30d) for CUPED.",
    )
    segments: tuple[AttributeName, ...] = Field(
        (), max_length=10, description="Visitor attributes to break results down by."
    )
    guardrails: tuple[GuardrailDefinition, ...] = Field(
        (), description="Metrics that flag the experiment when significantly worse."
    )
    auto_pause_on_guardrail: StrictBool = Field(
        False, description="Pause the experiment when a guardrail is violated (audit-logged)."
    )
    power: PowerDefinition | None = Field(None, description="Planned sample size.")

    def to_domain(self) -> AnalysisSettings:
        return AnalysisSettings(
            correction=self.correction,
            sequential=self.sequential,
            planned_units=self.planned_units,
            winsorize_percentile=self.winsorize_percentile,
            order_value_cap=self.order_value_cap,
            covariate=self.covariate,
            segments=self.segments,
            guardrails=tuple(
                GuardrailSetting(g.metric, g.worse_when or default_worse_when(g.metric))
                for g in self.guardrails
            ),
            auto_pause_on_guardrail=self.auto_pause_on_guardrail,
            power=None if self.power is None else PowerPlan(**self.power.model_dump()),
        )


class ExperimentDefinition(BaseModel):
    """One upsell or cross-sell experiment, as an analyst writes it in experiments/*.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Experiment")

    key: Key = Field(description="Unique experiment id: lowercase letters, digits, '-' and '_'.")
    name: Text = Field(description="Human-readable name shown in dashboards.")
    description: Text = Field("", description="What is tested and why.")
    placement: Key = Field(
        description="Where the offer appears: one of "
        + ", ".join(KNOWN_PLACEMENTS)
        + ", or a placement declared in placements.yaml.",
        examples=list(KNOWN_PLACEMENTS),
    )
    kind: OfferKind = Field(description="upsell (better version) or cross_sell (complement).")
    status: ExperimentStatus = Field(ExperimentStatus.DRAFT, description="Lifecycle status.")
    unit: Literal["visitor"] = Field("visitor", description="Randomisation unit.")
    traffic: Number = Field(
        1.0, gt=0, le=1, description="Share of visitors who enter the experiment."
    )
    allocation: AllocationKind = Field(
        AllocationKind.FIXED,
        description="fixed: the configured weights; thompson, epsilon_greedy or ucb1: a bandit "
        "re-weights variants with that policy.",
    )
    objective: Objective = Field(
        Objective.CONVERSION,
        description="What the bandit and the main result optimise: conversion (offer taken), "
        "offer_revenue (value of the accepted offer), order_value (the whole order's value), "
        "margin (offer value x the offer's margin); revenue is the older name of order_value.",
    )
    attribution_window_hours: StrictInt = Field(
        168, ge=1, le=24 * 90, description="Orders count within this window after first exposure."
    )
    alpha: Number = Field(0.05, gt=0, lt=0.5, description="Significance level of the analysis.")
    salt: Salt | None = Field(
        None, description="Hashing salt; defaults to the key and is kept once created."
    )
    bandit: BanditDefinition | None = Field(
        None, description="Bandit settings; only with a bandit allocation."
    )
    analysis: AnalysisDefinition = Field(
        default_factory=AnalysisDefinition, description="How results are computed."
    )
    control: Key = Field(description="Key of the variant every other variant is compared to.")
    # The minimum count is checked in cross_field_issues: pydantic's own check counts only the
    # variants that validated, and would report "too few" whenever one variant has a typo.
    variants: tuple[VariantDefinition, ...] = Field(
        description="At least two variants; the control is one of them.",
        json_schema_extra={"minItems": MIN_VARIANTS},
    )

    def to_domain(self) -> Experiment:
        """Build the domain `Experiment`; the salt stays empty when the YAML does not set it."""
        return Experiment(
            key=self.key,
            name=self.name,
            placement=self.placement,
            offer_kind=self.kind,
            variants=tuple(_variant_to_domain(variant) for variant in self.variants),
            control=self.control,
            description=self.description.strip(),
            status=self.status,
            unit=self.unit,
            traffic=self.traffic,
            allocation=self.allocation,
            objective=self.objective,
            attribution_window_hours=self.attribution_window_hours,
            alpha=self.alpha,
            salt=self.salt or "",
            bandit=bandit_to_domain(self.bandit),
            analysis=self.analysis.to_domain(),
        )


class PlacementDefinition(BaseModel):
    """A shop-specific placement beyond the built-in ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Key = Field(description="Placement id used in experiments.")
    description: Text = Field("", description="Where on the storefront it appears.")


class PlacementsDefinition(BaseModel):
    """The optional experiments/placements.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placements: tuple[PlacementDefinition, ...] = Field(description="Extra placements.")


def experiment_json_schema() -> dict[str, Any]:
    """The JSON Schema of one experiment YAML file."""
    return ExperimentDefinition.model_json_schema()


def cross_field_issues(data: Mapping[str, Any], *, placements: Sequence[str]) -> list[Issue]:
    """Problems that relate several fields, found on the raw document; wrong types are skipped."""
    variants = _variant_mappings(data)
    return [
        *_placement_issues(data, placements),
        *_variant_count_issues(data),
        *_variant_key_issues(variants),
        *_control_issues(data, variants),
        *_weight_issues(variants),
        *bandit_issues(data, len(variants)),
        *_margin_issues(data, variants),
        *_offer_issues(variants),
        *_analysis_issues(data),
    ]


def _variant_to_domain(variant: VariantDefinition) -> Variant:
    payload = variant.offer.model_dump(exclude_none=True) if variant.offer else {}
    return Variant(key=variant.key, name=variant.name, weight=variant.weight, payload=payload)


def _variant_mappings(data: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    variants = data.get("variants")
    if not isinstance(variants, list):
        return []
    return [(index, item) for index, item in enumerate(variants) if isinstance(item, Mapping)]


def _placement_issues(data: Mapping[str, Any], placements: Sequence[str]) -> Iterator[Issue]:
    placement = data.get("placement")
    if isinstance(placement, str) and placement not in placements:
        known = ", ".join(placements)
        yield ("placement",), f"unknown placement {placement!r} (known: {known})"


def _variant_count_issues(data: Mapping[str, Any]) -> Iterator[Issue]:
    variants = data.get("variants")
    if isinstance(variants, list) and len(variants) < MIN_VARIANTS:
        yield ("variants",), f"must have at least {MIN_VARIANTS} variants, not {len(variants)}"


def _variant_key_issues(variants: list[tuple[int, Mapping[str, Any]]]) -> Iterator[Issue]:
    seen: set[str] = set()
    for index, variant in variants:
        key = variant.get("key")
        if isinstance(key, str) and key in seen:
            yield ("variants", index, "key"), f"duplicate variant key {key!r}"
        if isinstance(key, str):
            seen.add(key)


def _control_issues(
    data: Mapping[str, Any], variants: list[tuple[int, Mapping[str, Any]]]
) -> Iterator[Issue]:
    control = data.get("control")
    keys = [variant["key"] for _, variant in variants if isinstance(variant.get("key"), str)]
    if isinstance(control, str) and keys and control not in keys:
        yield ("control",), f"{control!r} is not a variant key (variants: {', '.join(keys)})"


def _weight_issues(variants: list[tuple[int, Mapping[str, Any]]]) -> Iterator[Issue]:
    weights = [number_or_none(variant.get("weight")) for _, variant in variants]
    if not weights or any(weight is None or not math.isfinite(weight) for weight in weights):
        return
    total = math.fsum(weight for weight in weights if weight is not None)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        yield ("variants",), f"weights must sum to 1, not {total:.6g}"


def _margin_issues(
    data: Mapping[str, Any], variants: list[tuple[int, Mapping[str, Any]]]
) -> Iterator[Issue]:
    if data.get("objective") != Objective.MARGIN.value:
        return
    for index, variant in variants:
        offer = variant.get("offer")
        if isinstance(offer, Mapping) and offer.get("margin") is None:
            yield ("variants", index, "offer", "margin"), "is required with objective: margin"


def _offer_issues(variants: list[tuple[int, Mapping[str, Any]]]) -> Iterator[Issue]:
    for index, variant in variants:
        offer = variant.get("offer")
        if not isinstance(offer, Mapping):
            continue
        if offer.get("price") is not None and offer.get("currency") is None:
            yield ("variants", index, "offer", "currency"), "is required when price is set"


def _analysis_issues(data: Mapping[str, Any]) -> Iterator[Issue]:
    analysis = data.get("analysis")
    if not isinstance(analysis, Mapping):
        return
    if analysis.get("winsorize_percentile") is not None and analysis.get("order_value_cap"):
        message = "set winsorize_percentile or order_value_cap, not both"
        yield ("analysis", "order_value_cap"), message
    if analysis.get("auto_pause_on_guardrail") is True and not analysis.get("guardrails"):
        yield ("analysis", "auto_pause_on_guardrail"), "needs at least one guardrail"
