"""Race-room chat commands: a room's seed, fair-play calls, scheduled breaks.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "room_seeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("live_race_id", sa.Integer(), nullable=True),
        sa.Column("preset", sa.String(length=100), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("text", sa.String(length=1000), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=True),
        sa.Column("rolls", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("rolling_since", _TIME, nullable=True),
        sa.Column("rolling_request", sa.String(length=255), nullable=True),
        sa.Column("rolled_by_discord_id", sa.BigInteger(), nullable=True),
        sa.Column("rolled_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"],
            name=op.f("fk_room_seeds_match_id_matches"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["live_race_id"], ["async_live_races.id"],
            name=op.f("fk_room_seeds_live_race_id_async_live_races"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_seeds")),
        sa.UniqueConstraint("category", "slug", name=op.f("uq_room_seeds_category_slug")),
    )
    op.create_index(op.f("ix_room_seeds_match_id"), "room_seeds", ["match_id"], unique=False)
    op.create_table(
        "fpa_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("live_race_id", sa.Integer(), nullable=True),
        sa.Column("racetime_user_id", sa.String(length=64), nullable=False),
        sa.Column("racetime_user_name", sa.String(length=100), nullable=True),
        sa.Column("caller_discord_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("race_time_seconds", sa.Float(), nullable=True),
        sa.Column("called_at", _TIME, nullable=False),
        sa.Column("cleared_at", _TIME, nullable=True),
        sa.Column("cleared_by_discord_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"],
            name=op.f("fk_fpa_calls_match_id_matches"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["live_race_id"], ["async_live_races.id"],
            name=op.f("fk_fpa_calls_live_race_id_async_live_races"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fpa_calls")),
        sa.UniqueConstraint("request_id", name=op.f("uq_fpa_calls_request_id")),
    )
    op.create_index(op.f("ix_fpa_calls_match_id"), "fpa_calls", ["match_id"], unique=False)
    op.create_index(
        op.f("ix_fpa_calls_live_race_id"), "fpa_calls", ["live_race_id"], unique=False
    )
    op.create_table(
        "room_breaks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("announced", sa.Integer(), nullable=False),
        sa.Column("set_by_discord_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_breaks")),
        sa.UniqueConstraint("category", "slug", name=op.f("uq_room_breaks_category_slug")),
    )
    op.create_index(op.f("ix_room_breaks_active"), "room_breaks", ["active"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_room_breaks_active"), table_name="room_breaks")
    op.drop_table("room_breaks")
    op.drop_index(op.f("ix_fpa_calls_live_race_id"), table_name="fpa_calls")
    op.drop_index(op.f("ix_fpa_calls_match_id"), table_name="fpa_calls")
    op.drop_table("fpa_calls")
    op.drop_index(op.f("ix_room_seeds_match_id"), table_name="room_seeds")
    op.drop_table("room_seeds")
