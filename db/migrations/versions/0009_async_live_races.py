"""Async live races: participants' active flag and pool, a live race's goal, room settings and
room claim, and the runs of a pool that live races record.

Self-contained (one file) so it can be renumbered when merged beside another 0009.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("async_participants") as batch:
        batch.add_column(
            sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("pool_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_async_participants_pool_id_async_pools"), "async_pools",
            ["pool_id"], ["id"], ondelete="SET NULL",
        )
    with op.batch_alter_table("async_participants") as batch:
        batch.alter_column("is_active", server_default=None)
    with op.batch_alter_table("async_live_races") as batch:
        batch.add_column(sa.Column("goal", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("room_settings", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.add_column(sa.Column("room_state", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("room_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("room_error", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("async_live_races") as batch:
        batch.alter_column("room_settings", server_default=None)
    op.create_table(
        "async_pool_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("live_race_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.Column("finish_time", sa.Interval(), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_race_id"], ["async_live_races.id"],
            name=op.f("fk_async_pool_runs_live_race_id_async_live_races"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["async_pools.id"],
            name=op.f("fk_async_pool_runs_pool_id_async_pools"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_async_pool_runs_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_pool_runs")),
        sa.UniqueConstraint("pool_id", "user_id", name=op.f("uq_async_pool_runs_pool_id_user_id")),
    )
    for column in ("live_race_id", "pool_id", "user_id"):
        op.create_index(
            op.f(f"ix_async_pool_runs_{column}"), "async_pool_runs", [column], unique=False
        )


def downgrade() -> None:
    for column in ("live_race_id", "pool_id", "user_id"):
        op.drop_index(op.f(f"ix_async_pool_runs_{column}"), table_name="async_pool_runs")
    op.drop_table("async_pool_runs")
    with op.batch_alter_table("async_live_races") as batch:
        for column in ("room_error", "room_claimed_at", "room_state", "room_settings", "goal"):
            batch.drop_column(column)
    with op.batch_alter_table("async_participants") as batch:
        batch.drop_constraint(
            op.f("fk_async_participants_pool_id_async_pools"), type_="foreignkey"
        )
        batch.drop_column("pool_id")
        batch.drop_column("is_active")
