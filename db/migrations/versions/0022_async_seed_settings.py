"""Seeds of async pools rolled by a seed provider (issue 26): an async tournament's settings,
holding its seed provider under ``"seeds"`` (and whether its page is public, under
``"public"``) as a tournament's settings do.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("async_tournaments") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("async_tournaments") as batch:
        batch.alter_column("settings", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("async_tournaments") as batch:
        batch.drop_column("settings")
