"""Invites racetime refused: on the match's player, and when a match room was announced.

A match room is announced (``RoomForMatchEvent``) once its players were invited, so that the
announcement and the players' DMs say who racetime would not let in. Rooms opened before
this revision were announced when they opened.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "match_room_claims",
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE match_room_claims SET announced_at = opened_at WHERE state = 'opened'"
    )
    op.add_column(
        "match_players", sa.Column("invite_error", sa.String(length=1000), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("match_players", "invite_error")
    op.drop_column("match_room_claims", "announced_at")
