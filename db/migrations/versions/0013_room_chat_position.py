"""Where each room's chat was read up to: the id of the last chat message handled.

RaceDesk answers commands typed in a room's chat. racetime does not replay missed messages on
connect: after a (re)connect the room asks for the messages after this one (``gethistory``
with ``last_message``). It is committed with the commands it held, so a command is handled
once across reconnects and restarts. Rooms already watched start without one: their history
is read from when RaceDesk first watched them (their ``created_at``), see
``racetime/connection.py``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "race_rooms", sa.Column("last_chat_message_id", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("race_rooms") as batch:
        batch.drop_column("last_chat_message_id")
