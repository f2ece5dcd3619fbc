"""Sufficient statistics per variant, aggregated in SQL (the same statement on SQLite and PostgreSQL).

Each exposed visitor is one unit in the variant of its first exposure. Its revenue is the value of
its orders inside the attribution window after that exposure. Sums are taken per unit first, then
per variant, so the statistics code never sees raw events.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from offerlab.domain.stats.sufficient import VariantTotals

VARIANT_TOTALS_SQL = text(
    """
WITH exposed AS (
    SELECT visitor_id, variant_key, first_ts_ms
    FROM exposures
    WHERE experiment_id = :experiment_id
),
impressions AS (
    SELECT visitor_id, COUNT(*) AS n
    FROM events
    WHERE experiment_id = :experiment_id AND kind = 'impression'
    GROUP BY visitor_id
),
acceptances AS (
    SELECT visitor_id, COUNT(*) AS n, SUM(value) AS value
    FROM events
    WHERE experiment_id = :experiment_id AND kind = 'acceptance'
    GROUP BY visitor_id
),
attributed_orders AS (
    SELECT x.visitor_id, COUNT(*) AS n, SUM(o.value) AS value, SUM(o.value * o.value) AS value_sq
    FROM exposed x
    JOIN events o
      ON o.kind = 'order'
     AND o.visitor_id = x.visitor_id
     AND o.ts_ms >= x.first_ts_ms
     AND o.ts_ms < x.first_ts_ms + :window_ms
    GROUP BY x.visitor_id
),
units AS (
    SELECT x.variant_key,
           COALESCE(i.n, 0) AS impressions,
           COALESCE(a.n, 0) AS acceptances,
           COALESCE(a.value, 0.0) AS acceptance_value,
           COALESCE(o.n, 0) AS orders,
           COALESCE(o.value, 0.0) AS revenue,
           COALESCE(o.value_sq, 0.0) AS order_value_sq
    FROM exposed x
    LEFT JOIN impressions i ON i.visitor_id = x.visitor_id
    LEFT JOIN acceptances a ON a.visitor_id = x.visitor_id
    LEFT JOIN attributed_orders o ON o.visitor_id = x.visitor_id
)
SELECT variant_key,
       COUNT(*) AS units,
       SUM(impressions) AS impressions,
       SUM(CASE WHEN acceptances > 0 THEN 1 ELSE 0 END) AS converted_units,
       SUM(acceptances) AS acceptances,
       SUM(acceptance_value) AS acceptance_value_sum,
       SUM(orders) AS orders,
       SUM(revenue) AS order_value_sum,
       SUM(order_value_sq) AS order_value_sum_sq,
       SUM(revenue * revenue) AS revenue_sum_sq,
       SUM(orders * orders) AS orders_sum_sq,
       SUM(revenue * orders) AS revenue_orders_sum_prod
FROM units
GROUP BY variant_key
"""
)


def variant_totals(
    session: Session, experiment_id: int, *, attribution_window_hours: int
) -> dict[str, VariantTotals]:
    """Per-variant sufficient statistics of one experiment, keyed by variant key."""
    rows = session.execute(
        VARIANT_TOTALS_SQL,
        {"experiment_id": experiment_id, "window_ms": attribution_window_hours * 3_600_000},
    )
    return {row.variant_key: _to_totals(row) for row in rows}


def _to_totals(row: object) -> VariantTotals:
    m = row._mapping  # type: ignore[attr-defined]
    return VariantTotals(
        variant=m["variant_key"],
        units=int(m["units"]),
        impressions=int(m["impressions"]),
        converted_units=int(m["converted_units"]),
        acceptances=int(m["acceptances"]),
        acceptance_value_sum=float(m["acceptance_value_sum"]),
        orders=int(m["orders"]),
        order_value_sum=float(m["order_value_sum"]),
        order_value_sum_sq=float(m["order_value_sum_sq"]),
        revenue_sum_sq=float(m["revenue_sum_sq"]),
        orders_sum_sq=float(m["orders_sum_sq"]),
        revenue_orders_sum_prod=float(m["revenue_orders_sum_prod"]),
    )
