"""racetime bot administration: alert incidents and their outbox, and a server's admin channel.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("guild_settings", sa.Column("admin_channel_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "racetime_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["racetime_bots.id"],
            name=op.f("fk_racetime_incidents_bot_id_racetime_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_racetime_incidents")),
        sa.UniqueConstraint("open_key", name=op.f("uq_racetime_incidents_open_key")),
    )
    op.create_index(
        op.f("ix_racetime_incidents_bot_id"), "racetime_incidents", ["bot_id"], unique=False
    )
    op.create_table(
        "racetime_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["racetime_incidents.id"],
            name=op.f("fk_racetime_alerts_incident_id_racetime_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_racetime_alerts")),
        sa.UniqueConstraint(
            "incident_id", "kind", name=op.f("uq_racetime_alerts_incident_id_kind")
        ),
    )
    op.create_index(
        op.f("ix_racetime_alerts_sent_at"), "racetime_alerts", ["sent_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_racetime_alerts_sent_at"), table_name="racetime_alerts")
    op.drop_table("racetime_alerts")
    op.drop_index(op.f("ix_racetime_incidents_bot_id"), table_name="racetime_incidents")
    op.drop_table("racetime_incidents")
    with op.batch_alter_table("guild_settings") as batch:
        batch.drop_column("admin_channel_id")
