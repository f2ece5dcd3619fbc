"""Sufficient statistics per variant, aggregated in SQL (the same SQL on SQLite and PostgreSQL).

Each exposed visitor is one unit in the variant of its first exposure. Its revenue is the value of
its orders inside the attribution window after that exposure, each order capped at the
experiment's cap when it winsorises, minus the (equally capped) refunds of those orders. Sums are
taken per unit first, then per variant (and per segment value, day of first exposure or
allocation epoch when grouped), so the statistics code never sees raw events. Every exposure
comes from an impression event of the same experiment, so the inner join keeps every exposed
unit; one pass over the visitor's events (a join on visitor_id) keeps the cost linear.

Segments and the CUPED covariate are read from the attributes of the visitor's first impression
(`exposures.attributes`); a covariate that is missing or not a number counts as 0 and is counted
in `covariate_units` only when present.

Two sources give the same per-unit rows: the raw events (the per-unit SQL of
`storage.unit_sums`), and the per-unit rollups (`storage.rollups`), refreshed from the same SQL
before each read. Uncapped queries over the experiment's own attribution window read the
rollups (one row per unit, whatever the number of events); a configured cap, another window
and the order-value percentile read the raw events, since they need each order's value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.storage.rollups import rollup_ready
from offerlab.storage.unit_sums import (
    UNIT_EVENTS_JOIN,
    UNIT_SUMS,
    UNIT_VALUE_COLUMNS,
    UNIT_VALUES_SQL,
)

Grouping = Literal["segment", "day", "epoch", "propensity"]
DAY_MS = 86_400_000
# Typed NULLs: PostgreSQL types a bare NULL column as text, which COALESCE(…, 0.0) rejects.
NO_TEXT = "CAST(NULL AS TEXT)"
NO_NUMBER = "CAST(NULL AS DOUBLE PRECISION)"

_RAW_UNITS = (
    """
WITH unit_sums AS (
    SELECT x.variant_key,
           x.first_ts_ms,
           x.allocation_version,
           x.probability,
           {segment} AS segment,
           {covariate} AS covariate,"""
    + UNIT_SUMS.format(experiment=":experiment_id", value="{value}", over_cap="{over_cap}")
    + """
    FROM exposures x"""
    + UNIT_EVENTS_JOIN.format(experiment=":experiment_id", window=":window_ms")
    + """
    WHERE x.experiment_id = :experiment_id{learning_only}
    GROUP BY x.experiment_id, x.visitor_id
), units AS (
    SELECT u.variant_key,
           u.first_ts_ms,
           u.allocation_version,
           u.probability,
           u.segment,
           u.covariate,
           u.orders_capped,
"""
    + UNIT_VALUES_SQL
    + """
    FROM unit_sums u
)
"""
)

# The rollup holds uncapped sums, so it serves only queries without a cap (see storage.rollups).
# The attributes stay in `exposures` (alias `a`), joined only for a segment or a covariate.
_ROLLUP_UNITS = (
    """
WITH units AS (
    SELECT x.variant_key,
           x.first_ts_ms,
           x.allocation_version,
           x.probability,
           {segment} AS segment,
           {covariate} AS covariate,
           """
    + ", ".join(f"x.{column}" for column in UNIT_VALUE_COLUMNS)
    + """
    FROM unit_rollups x{attributes_join}
    WHERE x.experiment_id = :experiment_id{learning_only}
)
"""
)
_ATTRIBUTES_JOIN = """
    JOIN exposures a ON a.experiment_id = x.experiment_id AND a.visitor_id = x.visitor_id"""

_TOTALS = """
SELECT variant_key,
       {group} AS grp,
       {group2} AS grp2,
       COUNT(*) AS units,
       SUM(impressions) AS impressions,
       SUM(converted) AS converted_units,
       SUM(acceptances) AS acceptances,
       SUM(acceptance_value) AS acceptance_value_sum,
       SUM(acceptance_value_sq) AS acceptance_value_sum_sq,
       SUM(orders) AS orders,
       SUM(revenue) AS order_value_sum,
       SUM(order_value_sq) AS order_value_sum_sq,
       SUM(revenue_sq) AS revenue_sum_sq,
       SUM(orders_sq) AS orders_sum_sq,
       SUM(revenue_orders) AS revenue_orders_sum_prod,
       SUM(refunded) AS refunded_units,
       SUM(refunds) AS refunds,
       SUM(refund_value) AS refund_value,
       {orders_capped} AS orders_capped,
       {covariate_sums}
FROM units
GROUP BY variant_key{group_by}
"""

_ATTRIBUTED_ORDERS = """
FROM exposures x
JOIN events e
  ON e.visitor_id = x.visitor_id
 AND e.kind = 'order'
 AND e.ts_ms >= x.first_ts_ms
 AND e.ts_ms < x.first_ts_ms + :window_ms
WHERE x.experiment_id = :experiment_id
"""

_COVARIATE_SUMS = """SUM(CASE WHEN covariate IS NULL THEN 0 ELSE 1 END) AS covariate_units,
       SUM(COALESCE(covariate, 0.0)) AS covariate_sum,
       SUM(COALESCE(covariate, 0.0) * COALESCE(covariate, 0.0)) AS covariate_sum_sq,
       SUM(revenue * COALESCE(covariate, 0.0)) AS revenue_covariate_sum_prod"""
# Without a covariate these are zero; constants spare four sums per unit.
_NO_COVARIATE_SUMS = """0 AS covariate_units,
       0.0 AS covariate_sum,
       0.0 AS covariate_sum_sq,
       0.0 AS revenue_covariate_sum_prod"""

_GROUP_EXPRESSIONS: dict[Grouping | None, tuple[str, ...]] = {
    None: (),
    "segment": ("segment",),
    "day": (f"first_ts_ms / {DAY_MS}",),
    "epoch": ("allocation_version",),
    # Inverse-propensity weighting needs cells in which the propensity is constant.
    "propensity": ("allocation_version", "probability"),
}


@dataclass(frozen=True)
class AggregateOptions:
    """What the aggregation needs to know of the experiment's analysis settings."""

    attribution_window_hours: int
    order_value_cap: float | None = None
    covariate: str | None = None
    segment: str | None = None
    # Leave out the bandit's uniform measurement slice (what the bandit learns from).
    learning_only: bool = False

    @property
    def window_ms(self) -> int:
        return self.attribution_window_hours * 3_600_000

    @property
    def segments_as_served(self) -> bool:
        """Group segment values exactly as the SDK serves per-segment weights (a float is no
        segment): the bandit's learning view (`learning_only`) learns per served segment, while
        analysis shows float values as text."""
        return self.learning_only


def variant_totals(
    session: Session,
    experiment_id: int,
    *,
    attribution_window_hours: int,
    order_value_cap: float | None = None,
    covariate: str | None = None,
    learning_only: bool = False,
) -> dict[str, VariantTotals]:
    """Per-variant sufficient statistics of one experiment, keyed by variant key."""
    options = AggregateOptions(
        attribution_window_hours, order_value_cap, covariate, learning_only=learning_only
    )
    grouped = grouped_totals(session, experiment_id, options, group=None)
    return {variant: totals for (variant, _), totals in grouped.items()}


def grouped_totals(
    session: Session, experiment_id: int, options: AggregateOptions, *, group: Grouping | None
) -> dict[tuple[str, Any], VariantTotals]:
    """Sufficient statistics per (variant, group value).

    The group value is the segment attribute's value as text (None when the visitor did not
    send it), the UTC day number of the first exposure (days since 1970-01-01), or the
    allocation version of the first exposure. Read from the per-unit rollups when they serve
    these options (no cap, the experiment's own attribution window), else from the raw events;
    both give the same numbers.
    """
    if group == "segment" and not options.segment:
        raise ValueError("grouping by segment needs options.segment")
    if options.order_value_cap is None and rollup_ready(session, experiment_id, options.window_ms):
        return _grouped(session, experiment_id, options, group, _ROLLUP_UNITS)
    return _grouped(session, experiment_id, options, group, _RAW_UNITS)


def grouped_totals_from_rollups(
    session: Session, experiment_id: int, options: AggregateOptions, *, group: Grouping | None
) -> dict[tuple[str, Any], VariantTotals]:
    """`grouped_totals` read from the refreshed per-unit rollups; raises ValueError when they
    cannot serve these options (a cap, or another attribution window than the experiment's)."""
    if options.order_value_cap is not None:
        raise ValueError("the rollups hold uncapped sums; a cap needs the raw events")
    if not rollup_ready(session, experiment_id, options.window_ms):
        raise ValueError("the rollups use the experiment's own attribution window")
    return _grouped(session, experiment_id, options, group, _ROLLUP_UNITS)


def grouped_totals_from_events(
    session: Session, experiment_id: int, options: AggregateOptions, *, group: Grouping | None
) -> dict[tuple[str, Any], VariantTotals]:
    """`grouped_totals` computed from the raw events, bypassing the rollups (the reference)."""
    if group == "segment" and not options.segment:
        raise ValueError("grouping by segment needs options.segment")
    return _grouped(session, experiment_id, options, group, _RAW_UNITS)


def _grouped(
    session: Session,
    experiment_id: int,
    options: AggregateOptions,
    group: Grouping | None,
    units: str,
) -> dict[tuple[str, Any], VariantTotals]:
    dialect = session.get_bind().dialect.name
    from_rollups = units is _ROLLUP_UNITS
    # The raw path reads the attributes from `exposures x`, the rollup path joins them as `a`.
    table = "a" if from_rollups else "x"
    segment = (
        segment_text(dialect, "segment_name", table, as_served=options.segments_as_served)
        if options.segment
        else NO_TEXT
    )
    sql = (units + _TOTALS).format(
        segment=segment,
        covariate=(
            _number_attribute(dialect, "covariate_name", table) if options.covariate else NO_NUMBER
        ),
        attributes_join=_ATTRIBUTES_JOIN if options.segment or options.covariate else "",
        value=_capped("e.value", options.order_value_cap),
        over_cap="e.value > :cap" if options.order_value_cap is not None else "1 = 0",
        group=_GROUP_EXPRESSIONS[group][0] if group else "NULL",
        group2=_GROUP_EXPRESSIONS[group][1] if group == "propensity" else "NULL",
        group_by="".join(f", {expression}" for expression in _GROUP_EXPRESSIONS[group]),
        learning_only=" AND x.measurement = FALSE" if options.learning_only else "",
        orders_capped="0" if from_rollups else "SUM(orders_capped)",
        covariate_sums=_COVARIATE_SUMS if options.covariate else _NO_COVARIATE_SUMS,
    )
    parameters: dict[str, Any] = {"experiment_id": experiment_id, "window_ms": options.window_ms}
    if options.order_value_cap is not None:
        parameters["cap"] = float(options.order_value_cap)
    if options.segment:
        parameters["segment_name"] = _attribute_parameter(dialect, options.segment)
    if options.covariate:
        parameters["covariate_name"] = _attribute_parameter(dialect, options.covariate)
    rows = session.execute(text(sql), parameters)
    return {(row.variant_key, _group_value(group, row)): _to_totals(row) for row in rows}


def ordering_units(
    session: Session,
    experiment_id: int,
    *,
    attribution_window_hours: int,
    learning_only: bool = False,
) -> dict[str, int]:
    """Units with at least one attributed order, per variant key (absent: none).

    ``learning_only`` leaves out the bandit's measurement slice, as in ``AggregateOptions``.
    """
    window_ms = attribution_window_hours * 3_600_000
    parameters = {"experiment_id": experiment_id, "window_ms": window_ms}
    slice_filter = " AND x.measurement = FALSE" if learning_only else ""
    if rollup_ready(session, experiment_id, window_ms):
        sql = (
            "SELECT x.variant_key, COUNT(*) AS units FROM unit_rollups x"
            " WHERE x.experiment_id = :experiment_id AND x.orders > 0"
        )
    else:
        sql = "SELECT x.variant_key, COUNT(DISTINCT x.visitor_id) AS units " + _ATTRIBUTED_ORDERS
    rows = session.execute(text(sql + slice_filter + " GROUP BY x.variant_key"), parameters)
    return {row.variant_key: int(row.units) for row in rows}


def percentile_order_value(
    session: Session, experiment_id: int, *, attribution_window_hours: int, percentile: float
) -> float | None:
    """The nearest-rank percentile of the experiment's attributed order values (None: no orders).

    The value at rank ceil(p · n) of the n attributed orders sorted by value.
    """
    parameters = {"experiment_id": experiment_id, "window_ms": attribution_window_hours * 3_600_000}
    count = session.scalar(text("SELECT COUNT(*) " + _ATTRIBUTED_ORDERS), parameters) or 0
    if count == 0:
        return None
    rank = max(1, math.ceil(percentile * count))
    value = session.scalar(
        text("SELECT e.value " + _ATTRIBUTED_ORDERS + " ORDER BY e.value LIMIT 1 OFFSET :offset"),
        parameters | {"offset": rank - 1},
    )
    return None if value is None else float(value)


def _capped(column: str, cap: float | None) -> str:
    if cap is None:
        return column
    return f"(CASE WHEN {column} > :cap THEN :cap ELSE {column} END)"


def segment_text(dialect: str, parameter: str, table: str = "x", *, as_served: bool) -> str:
    """SQL for a segment attribute's value as text, the same on both databases.

    Strings as they are, integers in decimal, booleans as "true"/"false", like the SDK's
    `segment_value`; null (or absent) is NULL. A float is its JSON text as stored ("2.0",
    "0.30000000000000004", "1e+20") for analysis, NULL `as_served` (the SDK serves no segment
    for a float, so the bandit must not learn one).
    """
    attributes = f"{table}.attributes"
    if dialect == "postgresql":
        element = f"({attributes} -> CAST(:{parameter} AS TEXT))"
        value = f"({attributes} ->> CAST(:{parameter} AS TEXT))"
        number = f"CASE WHEN {value} ~ '^-?[0-9]+$' THEN {value} END" if as_served else value
        return (
            f"(CASE json_typeof({element}) WHEN 'string' THEN {value} "
            f"WHEN 'boolean' THEN {value} WHEN 'number' THEN {number} END)"
        )
    # json_extract gives 1 for true and 2.0's REAL; `->` gives the JSON text as stored.
    element = f"({attributes} -> :{parameter})"
    real = "" if as_served else f" WHEN 'real' THEN {element}"
    return (
        f"(CASE json_type({attributes}, :{parameter}) "
        f"WHEN 'text' THEN json_extract({attributes}, :{parameter}) "
        f"WHEN 'integer' THEN {element} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
        f"{real} END)"
    )


def _number_attribute(dialect: str, parameter: str, table: str) -> str:
    """The attribute as a number, NULL when absent or not numeric (never a cast error)."""
    attributes = f"{table}.attributes"
    if dialect == "postgresql":
        return (
            f"(CASE WHEN json_typeof({attributes} -> CAST(:{parameter} AS TEXT)) = 'number' "
            f"THEN CAST({attributes} ->> CAST(:{parameter} AS TEXT) AS DOUBLE PRECISION) END)"
        )
    return (
        f"(CASE WHEN json_type({attributes}, :{parameter}) IN ('integer', 'real') "
        f"THEN json_extract({attributes}, :{parameter}) END)"
    )


def _attribute_parameter(dialect: str, name: str) -> str:
    """PostgreSQL takes the key itself; SQLite a JSON path with the key quoted."""
    if dialect == "postgresql":
        return name
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _group_value(group: Grouping | None, row: Any) -> Any:
    value = row.grp
    if group == "propensity":
        probability = None if row.grp2 is None else float(row.grp2)
        return (None if value is None else int(value), probability)
    if value is None or group is None:
        return None
    if group in ("day", "epoch"):
        return int(value)
    if isinstance(value, str):
        return value
    return str(value)


def _to_totals(row: Any) -> VariantTotals:
    m: Mapping[str, Any] = row._mapping
    return VariantTotals(
        variant=m["variant_key"],
        units=int(m["units"]),
        impressions=int(m["impressions"]),
        converted_units=int(m["converted_units"]),
        acceptances=int(m["acceptances"]),
        acceptance_value_sum=float(m["acceptance_value_sum"] or 0.0),
        orders=int(m["orders"]),
        order_value_sum=float(m["order_value_sum"] or 0.0),
        order_value_sum_sq=float(m["order_value_sum_sq"] or 0.0),
        revenue_sum_sq=float(m["revenue_sum_sq"] or 0.0),
        orders_sum_sq=float(m["orders_sum_sq"]),
        revenue_orders_sum_prod=float(m["revenue_orders_sum_prod"] or 0.0),
        acceptance_value_sum_sq=float(m["acceptance_value_sum_sq"] or 0.0),
        refunded_units=int(m["refunded_units"]),
        refunds=int(m["refunds"]),
        refund_value=float(m["refund_value"] or 0.0),
        orders_capped=int(m["orders_capped"]),
        covariate_units=int(m["covariate_units"]),
        covariate_sum=float(m["covariate_sum"] or 0.0),
        covariate_sum_sq=float(m["covariate_sum_sq"] or 0.0),
        revenue_covariate_sum_prod=float(m["revenue_covariate_sum_prod"] or 0.0),
    )
