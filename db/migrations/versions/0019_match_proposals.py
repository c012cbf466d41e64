"""Times players propose for their own match, and what became of each (issue 25).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_STATES = "'open', 'accepted', 'declined', 'withdrawn', 'replaced', 'approved', 'rejected'"


def upgrade() -> None:
    op.create_table(
        "match_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("live_match_id", sa.Integer(), nullable=True),
        sa.Column("proposer_discord_id", sa.BigInteger(), nullable=False),
        sa.Column("proposed_at", _TIME, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("accepted_by", sa.JSON(), nullable=False),
        sa.Column("decided_by_discord_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("replaced_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_match_proposals_state_valid")),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"],
            name=op.f("fk_match_proposals_match_id_matches"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_proposals")),
        sa.UniqueConstraint("live_match_id", name=op.f("uq_match_proposals_live_match_id")),
    )
    op.create_index(
        op.f("ix_match_proposals_match_id"), "match_proposals", ["match_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_match_proposals_match_id"), table_name="match_proposals")
    op.drop_table("match_proposals")
