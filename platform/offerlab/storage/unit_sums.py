"""The per-unit SQL shared by the raw results path and the rollup refresh (one definition, so the
two cannot drift apart).

A unit is one row of `exposures` (alias `x`); its events are joined from `events` (alias `e`) by
visitor: the experiment's own impressions and acceptances, the visitor's orders inside the
attribution window after the first exposure, and refunds of those orders. `{experiment}` is the
SQL for the unit's experiment id, `{window}` that for the attribution window in milliseconds,
`{value}` the (possibly capped) value expression and `{over_cap}` the test for a capped order.
"""

from __future__ import annotations

UNIT_SUMS = """
           SUM(CASE WHEN e.kind = 'impression' AND e.experiment_id = {experiment}
                    THEN 1 ELSE 0 END) AS impressions,
           SUM(CASE WHEN e.kind = 'acceptance' AND e.experiment_id = {experiment}
                    THEN 1 ELSE 0 END) AS acceptances,
           SUM(CASE WHEN e.kind = 'acceptance' AND e.experiment_id = {experiment}
                    THEN e.value ELSE 0.0 END) AS acceptance_value,
           SUM(CASE WHEN e.kind = 'order' THEN 1 ELSE 0 END) AS orders,
           SUM(CASE WHEN e.kind = 'order' AND {over_cap} THEN 1 ELSE 0 END) AS orders_capped,
           SUM(CASE WHEN e.kind = 'order' THEN {value} ELSE 0.0 END)
             - SUM(CASE WHEN e.kind = 'refund' THEN {value} ELSE 0.0 END) AS revenue,
           SUM(CASE WHEN e.kind = 'order' THEN {value} * {value} ELSE 0.0 END) AS order_value_sq,
           SUM(CASE WHEN e.kind = 'refund' THEN 1 ELSE 0 END) AS refunds,
           SUM(CASE WHEN e.kind = 'refund' THEN {value} ELSE 0.0 END) AS refund_value"""

UNIT_EVENTS_JOIN = """
    JOIN events e
      ON e.visitor_id = x.visitor_id
     AND (e.experiment_id = {experiment}
          OR (e.kind = 'order'
              AND e.ts_ms >= x.first_ts_ms
              AND e.ts_ms < x.first_ts_ms + {window})
          OR (e.kind = 'refund'
              AND EXISTS (SELECT 1 FROM events o
                          WHERE o.kind = 'order'
                            AND o.order_id = e.order_id
                            AND o.visitor_id = x.visitor_id
                            AND o.ts_ms >= x.first_ts_ms
                            AND o.ts_ms < x.first_ts_ms + {window})))"""

# The rollup keeps uncapped sums; capping needs each order's value (see storage.rollups).
UNCAPPED = {"value": "e.value", "over_cap": "1 = 0"}

# The per-unit values the totals sum, derived from the per-unit sums (alias `u`): products and
# indicators are taken per unit here, so the totals (and the rollup read) are plain SUMs.
UNIT_VALUES = (
    ("impressions", "u.impressions"),
    ("converted", "CASE WHEN u.acceptances > 0 THEN 1 ELSE 0 END"),
    ("acceptances", "u.acceptances"),
    ("acceptance_value", "u.acceptance_value"),
    ("acceptance_value_sq", "u.acceptance_value * u.acceptance_value"),
    ("orders", "u.orders"),
    ("orders_sq", "u.orders * u.orders"),
    ("revenue", "u.revenue"),
    ("revenue_sq", "u.revenue * u.revenue"),
    ("revenue_orders", "u.revenue * u.orders"),
    ("order_value_sq", "u.order_value_sq"),
    ("refunded", "CASE WHEN u.refunds > 0 THEN 1 ELSE 0 END"),
    ("refunds", "u.refunds"),
    ("refund_value", "u.refund_value"),
)
UNIT_VALUE_COLUMNS = tuple(name for name, _ in UNIT_VALUES)
UNIT_VALUES_SQL = ",\n".join(f"           {sql} AS {name}" for name, sql in UNIT_VALUES)
