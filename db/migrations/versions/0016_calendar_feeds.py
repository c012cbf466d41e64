"""Calendar feeds: secret iCal URLs per tournament and per player, and each match's calendar
revision (its ``SEQUENCE``).

Self-contained (two new tables) so it can be renumbered when merged beside the other
helpers' migrations of issue 25.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_LIVE_TOURNAMENT = "revoked_at IS NULL AND tournament_id IS NOT NULL"
_LIVE_USER = "revoked_at IS NULL AND user_id IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("tournament_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_by_discord_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.CheckConstraint(
            "kind IN ('tournament', 'player')", name=op.f("ck_calendar_feeds_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["tournament_id"], ["tournaments.id"],
            name=op.f("fk_calendar_feeds_tournament_id_tournaments"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_calendar_feeds_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    op.create_index(
        "uq_calendar_feeds_live_tournament", "calendar_feeds", ["tournament_id"], unique=True,
        sqlite_where=sa.text(_LIVE_TOURNAMENT), postgresql_where=sa.text(_LIVE_TOURNAMENT),
    )
    op.create_index(
        "uq_calendar_feeds_live_user", "calendar_feeds", ["user_id"], unique=True,
        sqlite_where=sa.text(_LIVE_USER), postgresql_where=sa.text(_LIVE_USER),
    )
    op.create_table(
        "calendar_match_revisions",
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"],
            name=op.f("fk_calendar_match_revisions_match_id_matches"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_id", name=op.f("pk_calendar_match_revisions")),
    )


def downgrade() -> None:
    op.drop_table("calendar_match_revisions")
    op.drop_index("uq_calendar_feeds_live_user", table_name="calendar_feeds")
    op.drop_index("uq_calendar_feeds_live_tournament", table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
