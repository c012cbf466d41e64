"""Match room claims and per-match room settings.

``match_room_claims`` holds one row per match whose room is being (or was) opened; its
unique ``match_id`` is what makes opening a room exactly-once across processes. ``matches``
gets its per-match overrides (goal, invitational, auto-create) and ``room_error``, why the
room could not be opened.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_room_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=True),
        sa.Column("info", sa.String(length=1000), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('opening', 'opened', 'failed')",
            name=op.f("ck_match_room_claims_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_match_room_claims_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_room_claims")),
        sa.UniqueConstraint("match_id", name=op.f("uq_match_room_claims_match_id")),
    )
    op.create_index(
        op.f("ix_match_room_claims_state"), "match_room_claims", ["state"], unique=False
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("goal", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("invitational", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("auto_create_room", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("room_error", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("room_error")
        batch_op.drop_column("auto_create_room")
        batch_op.drop_column("invitational")
        batch_op.drop_column("goal")
    op.drop_index(op.f("ix_match_room_claims_state"), table_name="match_room_claims")
    op.drop_table("match_room_claims")
