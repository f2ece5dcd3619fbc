"""per-unit rollups for results: unit_rollups, rollup_marks, rollup_pending, rollup_state

The tables start empty; the first refresh builds every experiment's rollup from its events
(an experiment without a rollup_state row is rebuilt in full).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "unit_rollups",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.String(length=128), nullable=False),
        sa.Column("variant_key", sa.String(length=64), nullable=False),
        sa.Column("first_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("allocation_version", sa.Integer(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("measurement", sa.Boolean(), nullable=False),
        sa.Column("impressions", sa.Integer(), nullable=False),
        sa.Column("converted", sa.Integer(), nullable=False),
        sa.Column("acceptances", sa.Integer(), nullable=False),
        sa.Column("acceptance_value", sa.Float(), nullable=False),
        sa.Column("acceptance_value_sq", sa.Float(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("orders_sq", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("revenue_sq", sa.Float(), nullable=False),
        sa.Column("revenue_orders", sa.Float(), nullable=False),
        sa.Column("order_value_sq", sa.Float(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.Column("refund_value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_unit_rollups_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "visitor_id", name=op.f("pk_unit_rollups")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_unit_rollups_visitor_id", "unit_rollups", ["visitor_id"])
    op.create_table(
        "rollup_marks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("visitor_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_marks")),
    )
    op.create_table(
        "rollup_pending",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "visitor_id", name=op.f("pk_rollup_pending")),
    )
    op.create_table(
        "rollup_state",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("window_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_rollup_state_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_rollup_state")),
    )


def downgrade() -> None:
    op.drop_table("rollup_state")
    op.drop_table("rollup_pending")
    op.drop_table("rollup_marks")
    op.drop_index("ix_unit_rollups_visitor_id", table_name="unit_rollups")
    op.drop_table("unit_rollups")
