"""A match's import key: which line of a schedule (a CSV import, the HTTP API) made it, so
importing the same schedule again changes nothing and an updated one updates its matches.

Unique per tournament; NULL (a match scheduled by hand) never collides.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            "uq_matches_tournament_id_import_key", ["tournament_id", "import_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint("uq_matches_tournament_id_import_key", type_="unique")
        batch_op.drop_column("import_key")
