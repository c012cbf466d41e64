"""Discord scheduled events for matches: which Discord event RaceDesk made for a match.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_discord_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("discord_event_id", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "phase IN ('scheduled', 'cancelled', 'ended')",
            name=op.f("ck_match_discord_events_phase_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_match_discord_events_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_discord_events")),
        sa.UniqueConstraint("match_id", name=op.f("uq_match_discord_events_match_id")),
    )
    op.create_index(
        op.f("ix_match_discord_events_guild_id"), "match_discord_events", ["guild_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_match_discord_events_guild_id"), table_name="match_discord_events")
    op.drop_table("match_discord_events")
