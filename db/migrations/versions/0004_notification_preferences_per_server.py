"""Notification preferences per server: notification_subscriptions gets guild_id.

Nothing wrote subscriptions before this revision; any row would lack its server, so the
table is emptied first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM notification_subscriptions")
    with op.batch_alter_table("notification_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guild_id", sa.BigInteger(), nullable=False))
        batch_op.drop_index(
            batch_op.f("uq_notification_subscriptions_user_id_event_type_global"),
            sqlite_where=sa.text("tournament_id IS NULL"),
        )
        batch_op.drop_constraint(
            batch_op.f("uq_notification_subscriptions_user_id_event_type_tournament_id"),
            type_="unique",
        )
        batch_op.create_index(
            batch_op.f("ix_notification_subscriptions_guild_id"), ["guild_id"], unique=False
        )
        batch_op.create_index(
            "uq_notification_subscriptions_user_id_guild_id_event_type_all",
            ["user_id", "guild_id", "event_type"],
            unique=True,
            sqlite_where=sa.text("tournament_id IS NULL"),
            postgresql_where=sa.text("tournament_id IS NULL"),
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_notification_subscriptions_user_id_guild_id_event_type_tournament_id"),
            ["user_id", "guild_id", "event_type", "tournament_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_notification_subscriptions_user_id_guild_id_event_type_tournament_id"),
            type_="unique",
        )
        batch_op.drop_index(
            "uq_notification_subscriptions_user_id_guild_id_event_type_all",
            sqlite_where=sa.text("tournament_id IS NULL"),
            postgresql_where=sa.text("tournament_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_notification_subscriptions_guild_id"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_notification_subscriptions_user_id_event_type_tournament_id"),
            ["user_id", "event_type", "tournament_id"],
        )
        batch_op.create_index(
            batch_op.f("uq_notification_subscriptions_user_id_event_type_global"),
            ["user_id", "event_type"],
            unique=True,
            sqlite_where=sa.text("tournament_id IS NULL"),
            postgresql_where=sa.text("tournament_id IS NULL"),
        )
        batch_op.drop_column("guild_id")
