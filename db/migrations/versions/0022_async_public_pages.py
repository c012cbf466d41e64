"""Public pages of async tournaments (issue 26): whether anyone may read an async
tournament's page on the web server. Existing tournaments stay private.

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
        batch.add_column(
            sa.Column("is_public", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("async_tournaments") as batch:
        batch.alter_column("is_public", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("async_tournaments") as batch:
        batch.drop_column("is_public")
