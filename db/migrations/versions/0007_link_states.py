"""Pending racetime account links (``link_states``).

One row per ``/link-racetime`` click: the SHA-256 of the OAuth ``state``, the Discord user it
is bound to, when it expires and when it was used. In the database, not in memory, so a link
survives a restart between the click and racetime's callback.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("discord_id", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_link_states_state_hash")),
    )
    op.create_index(
        op.f("ix_link_states_discord_id"), "link_states", ["discord_id"], unique=False
    )
    op.create_index(
        op.f("ix_link_states_expires_at"), "link_states", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_link_states_expires_at"), table_name="link_states")
    op.drop_index(op.f("ix_link_states_discord_id"), table_name="link_states")
    op.drop_table("link_states")
