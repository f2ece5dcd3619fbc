"""Sufficient statistics per variant, aggregated in SQL (one statement for SQLite and PostgreSQL).

Each exposed visitor is one unit in the variant of its first exposure. Its revenue is the value of
its orders inside the attribution window after that exposure. Sums are taken per unit first, then
per variant, so the statistics code never sees raw events. Every exposure comes from an
impression event of the same experiment, so the inner join keeps every exposed unit; one pass
over the visitor's events (a hash join on visitor_id) keeps the cost linear in the events.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from offerlab.domain.stats.sufficient import VariantTotals

VARIANT_TOTALS_SQL = text(
    """
WITH units AS (
    SELECT x.variant_key,
           SUM(CASE WHEN e.kind = 'impression' AND e.experiment_id = :experiment_id
                    THEN 1 ELSE 0 END) AS impressions,
           SUM(CASE WHEN e.kind = 'acceptance' AND e.experiment_id = :experiment_id
                    THEN 1 ELSE 0 END) AS acceptances,
           SUM(CASE WHEN e.kind = 'acceptance' AND e.experiment_id = :experiment_id
                    THEN e.value ELSE 0.0 END) AS acceptance_value,
           SUM(CASE WHEN e.kind = 'order' THEN 1 ELSE 0 END) AS orders,
           SUM(CASE WHEN e.kind = 'order' THEN e.value ELSE 0.0 END) AS revenue,
           SUM(CASE WHEN e.kind = 'order' THEN e.value * e.value ELSE 0.0 END) AS order_value_sq
    FROM exposures x
    JOIN events e
      ON e.visitor_id = x.visitor_id
     AND (e.experiment_id = :experiment_id
          OR (e.kind = 'order'
              AND e.ts_ms >= x.first_ts_ms
              AND e.ts_ms < x.first_ts_ms + :window_ms))
    WHERE x.experiment_id = :experiment_id
    GROUP BY x.variant_key, x.visitor_id
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
