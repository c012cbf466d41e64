"""Review of async runs (issue 26): an async tournament's reviewer role, and who reviewed a
run, when, why, and its time before an adjustment.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("async_tournaments") as batch:
        batch.add_column(sa.Column("reviewer_role_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("async_runs") as batch:
        batch.add_column(sa.Column("reviewer_discord_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("review_reason", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("original_finish_time", sa.Interval(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("async_runs") as batch:
        batch.drop_column("original_finish_time")
        batch.drop_column("review_reason")
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewer_discord_id")
    with op.batch_alter_table("async_tournaments") as batch:
        batch.drop_column("reviewer_role_id")
