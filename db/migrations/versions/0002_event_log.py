"""The event log (transactional outbox), parked deliveries and listener receipts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_deliveries_parked",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("listener", sa.String(length=200), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_deliveries_parked")),
        sa.UniqueConstraint(
            "event_id", "listener", name=op.f("uq_event_deliveries_parked_event_id_listener")
        ),
    )
    with op.batch_alter_table("event_deliveries_parked", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_deliveries_parked_parked_at"), ["parked_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_event_deliveries_parked_seq"), ["seq"], unique=False)

    op.create_table(
        "event_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("partition_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_log_event_id")),
    )
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_log_delivered_at"), ["delivered_at"], unique=False
        )
        batch_op.create_index(
            "ix_event_log_undelivered",
            ["partition_key", "seq"],
            unique=False,
            sqlite_where=sa.text("delivered_at IS NULL"),
            postgresql_where=sa.text("delivered_at IS NULL"),
        )

    op.create_table(
        "listener_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("listener", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listener_receipts")),
        sa.UniqueConstraint(
            "listener", "event_id", name=op.f("uq_listener_receipts_listener_event_id")
        ),
    )
    with op.batch_alter_table("listener_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listener_receipts_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("listener_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listener_receipts_recorded_at"))

    op.drop_table("listener_receipts")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_event_log_undelivered",
            sqlite_where=sa.text("delivered_at IS NULL"),
            postgresql_where=sa.text("delivered_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_event_log_delivered_at"))

    op.drop_table("event_log")
    with op.batch_alter_table("event_deliveries_parked", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_deliveries_parked_seq"))
        batch_op.drop_index(batch_op.f("ix_event_deliveries_parked_parked_at"))

    op.drop_table("event_deliveries_parked")
