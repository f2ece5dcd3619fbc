"""serving context: eligible variants and measurement slice per exposure, per-segment weights

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eligible", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("measurement", sa.Boolean(), nullable=True))
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eligible", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("measurement", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment_weights", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_column("segment_weights")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_column("measurement")
        batch_op.drop_column("eligible")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("measurement")
        batch_op.drop_column("eligible")
