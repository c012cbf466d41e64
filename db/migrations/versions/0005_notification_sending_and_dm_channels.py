"""Notifications being sent get their own status; users keep the bot's DM channel.

A row under way was ``pending`` with its lease in ``next_attempt_at``, which a restart could
not tell from a retry waiting out its backoff. Now it is ``sending``.

``users.discord_dm_channel_id`` keeps the DM channel the bot opened with a user, so a restart
does not open every player's again (each is a request against Discord's global limit).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_notification_log_status_valid"
WITH_SENDING = "status IN ('pending', 'sending', 'sent', 'failed', 'fallback')"
WITHOUT_SENDING = "status IN ('pending', 'sent', 'failed', 'fallback')"


def _replace_check(condition: str) -> None:
    with op.batch_alter_table("notification_log", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(CONSTRAINT), condition)


def upgrade() -> None:
    _replace_check(WITH_SENDING)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discord_dm_channel_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("discord_dm_channel_id")
    op.execute("UPDATE notification_log SET status = 'pending' WHERE status = 'sending'")
    _replace_check(WITHOUT_SENDING)
