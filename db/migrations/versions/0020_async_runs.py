"""Async runs on a player's own time (issue 26): a pool's seeds, the runs players start and
submit, and an async tournament's run limit.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_STATES = "'started', 'submitted', 'forfeit', 'approved', 'rejected'"


def upgrade() -> None:
    with op.batch_alter_table("async_tournaments") as batch:
        batch.add_column(
            sa.Column("run_limit_hours", sa.Integer(), nullable=False, server_default="12")
        )
    with op.batch_alter_table("async_tournaments") as batch:
        batch.alter_column("run_limit_hours", server_default=None)
    op.create_table(
        "async_pool_seeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("par_time", sa.Interval(), nullable=True),
        sa.Column("added_by_discord_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["async_pools.id"],
            name=op.f("fk_async_pool_seeds_pool_id_async_pools"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_pool_seeds")),
        sa.UniqueConstraint(
            "pool_id", "position", name=op.f("uq_async_pool_seeds_pool_id_position")
        ),
    )
    op.create_index(
        op.f("ix_async_pool_seeds_pool_id"), "async_pool_seeds", ["pool_id"], unique=False
    )
    op.create_table(
        "async_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("seed_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("running_tournament_id", sa.Integer(), nullable=True),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("deadline_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("finish_time", sa.Interval(), nullable=True),
        sa.Column("vod_url", sa.String(length=500), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("forfeit_reason", sa.String(length=16), nullable=True),
        sa.Column("reattempt_allowed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.CheckConstraint(f"status IN ({_STATES})", name=op.f("ck_async_runs_status_valid")),
        sa.ForeignKeyConstraint(
            ["tournament_id"], ["async_tournaments.id"],
            name=op.f("fk_async_runs_tournament_id_async_tournaments"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["async_pools.id"],
            name=op.f("fk_async_runs_pool_id_async_pools"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["seed_id"], ["async_pool_seeds.id"],
            name=op.f("fk_async_runs_seed_id_async_pool_seeds"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_async_runs_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_runs")),
        sa.UniqueConstraint(
            "seed_id", "user_id", "attempt", name=op.f("uq_async_runs_seed_id_user_id_attempt")
        ),
        sa.UniqueConstraint(
            "user_id", "running_tournament_id",
            name=op.f("uq_async_runs_user_id_running_tournament_id"),
        ),
    )
    op.create_index(
        op.f("ix_async_runs_tournament_id"), "async_runs", ["tournament_id"], unique=False
    )
    op.create_index(op.f("ix_async_runs_user_id"), "async_runs", ["user_id"], unique=False)
    op.create_index(
        "ix_async_runs_status_deadline_at", "async_runs", ["status", "deadline_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_async_runs_status_deadline_at", table_name="async_runs")
    op.drop_index(op.f("ix_async_runs_user_id"), table_name="async_runs")
    op.drop_index(op.f("ix_async_runs_tournament_id"), table_name="async_runs")
    op.drop_table("async_runs")
    op.drop_index(op.f("ix_async_pool_seeds_pool_id"), table_name="async_pool_seeds")
    op.drop_table("async_pool_seeds")
    with op.batch_alter_table("async_tournaments") as batch:
        batch.drop_column("run_limit_hours")
