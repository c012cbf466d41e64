"""Names compared by a stored casefolded key: tournaments, async tournaments, their pools.

SQLite's ``lower()`` folds ASCII only, so "Ärger Cup" could be created and then never found
again, and "ÄRGER CUP" was accepted beside it. Each name now has a ``name_key`` (spacing
collapsed, NFKC, casefolded: ``db.name_key``), filled here for the rows already there and on
every write by the models, and unique per server (per tournament for pools). Names that were
one name in all but case are told apart by appending the row's id to the later ones, so that
each stays reachable.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_MAX = 200


def name_key(name: str) -> str:
    """``db.name_key.name_key`` as of this revision (a migration keeps its own copy)."""
    spaced = " ".join(name.split())
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", spaced).casefold())


# (table, the column a name is unique within)
TABLES = (
    ("tournaments", "guild_id"),
    ("async_tournaments", "guild_id"),
    ("async_pools", "tournament_id"),
)


def _backfill(table: str, scope: str) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(f"SELECT id, {scope}, name FROM {table} ORDER BY id")  # noqa: S608 (constants)
    ).all()
    taken: set[tuple[int, str]] = set()
    for row_id, scope_id, name in rows:
        key = name_key(name)
        if (scope_id, key) in taken:  # the same name but for its case: keep both reachable
            name = f"{name[:90]} ({row_id})"
            key = name_key(name)
        taken.add((scope_id, key))
        connection.execute(
            sa.text(f"UPDATE {table} SET name = :name, name_key = :key WHERE id = :id"),  # noqa: S608
            {"name": name, "key": key, "id": row_id},
        )


def upgrade() -> None:
    for table, scope in TABLES:
        op.add_column(table, sa.Column("name_key", sa.String(length=KEY_MAX), nullable=True))
        _backfill(table, scope)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "name_key", existing_type=sa.String(length=KEY_MAX), nullable=False
            )
            batch.create_unique_constraint(
                op.f(f"uq_{table}_{scope}_name_key"), [scope, "name_key"]
            )


def downgrade() -> None:
    for table, scope in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_{scope}_name_key"), type_="unique")
            batch.drop_column("name_key")
