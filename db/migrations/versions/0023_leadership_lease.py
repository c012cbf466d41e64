"""The leader lease (issue 27): one row holding the epoch of the process that leads a
PostgreSQL database, and who holds it; and the epoch each room claim was taken under. Created
on SQLite too (one schema), where it stays unused: SQLite runs one process.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    lease = op.create_table(
        "leadership_lease",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=63), nullable=True),
        sa.Column("holder_name", sa.String(length=200), nullable=True),
        sa.Column("backend_pid", sa.Integer(), nullable=True),
        sa.Column("acquired_at", _TIME, nullable=True),
        sa.Column("renewed_at", _TIME, nullable=True),
        sa.Column("trust_seconds", sa.Float(), nullable=True),
        sa.Column("released_at", _TIME, nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_leadership_lease_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leadership_lease")),
    )
    op.bulk_insert(lease, [{"id": 1, "epoch": 0}])
    # The epoch a room's claim was taken under: a claim of an older epoch is taken over at once.
    with op.batch_alter_table("match_room_claims") as batch:
        batch.add_column(sa.Column("leader_epoch", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("async_live_races") as batch:
        batch.add_column(sa.Column("room_claim_epoch", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("async_live_races") as batch:
        batch.drop_column("room_claim_epoch")
    with op.batch_alter_table("match_room_claims") as batch:
        batch.drop_column("leader_epoch")
    op.drop_table("leadership_lease")
