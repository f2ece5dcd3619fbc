"""analysis settings, exposure attributes, event ids unique per key, audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The attributes of each exposure are those of the visitor's first impression in the experiment.
BACKFILL_EXPOSURE_ATTRIBUTES = """
UPDATE exposures SET attributes = (
    SELECT e.attributes FROM events e
    WHERE e.experiment_id = exposures.experiment_id
      AND e.visitor_id = exposures.visitor_id
      AND e.kind = 'impression'
    ORDER BY e.ts_ms, e.id
    LIMIT 1
)
"""


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("analysis", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("bandit_options", sa.JSON(), nullable=True))
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
    op.execute(BACKFILL_EXPOSURE_ATTRIBUTES)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_id", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.drop_constraint("uq_events_event_id", type_="unique")
        batch_op.create_unique_constraint("uq_events_key_id_event_id", ["key_id", "event_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_audit_log_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_experiment_at", "audit_log", ["experiment_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_experiment_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_key_id_event_id", type_="unique")
        batch_op.create_unique_constraint("uq_events_event_id", ["event_id"])
        batch_op.drop_column("key_id")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_column("attributes")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("bandit_options")
        batch_op.drop_column("analysis")
