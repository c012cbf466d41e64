"""The leader lease (issue 27): which RaceDesk process leads a PostgreSQL database, and since
which epoch."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from db.models.base import datetime_field

LEASE_ROW_ID = 1  # the table holds this one row


class LeadershipLease(SQLModel, table=True):
    """The one row every process reads: the current epoch and who holds it.

    ``epoch`` grows by one at every change of leader, in the transaction that takes the
    leader's advisory lock; a write that causes an effect compares its epoch with it (see
    ``core.leadership``). ``holder`` is the leader's id, which is also the
    ``application_name`` of its database sessions, so that a process taking over can end
    them; it is cleared when the leader hands over in order. The times are the database's
    own clock, the one every process shares.
    """

    __tablename__ = "leadership_lease"
    __table_args__ = (CheckConstraint(f"id = {LEASE_ROW_ID}", name="one_row"),)

    id: int = Field(
        default=LEASE_ROW_ID, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    epoch: int = Field(default=0, sa_type=BigInteger)
    holder: str | None = Field(default=None, max_length=63)
    # The leader's host and process id, for the people reading /healthz and the log.
    holder_name: str | None = Field(default=None, max_length=200)
    # The leader's lease session (pg_backend_pid()), for an admin looking at pg_stat_activity.
    backend_pid: int | None = Field(default=None)
    # When the holder leads from: it took the lease then, or (taking over from a holder that
    # did not hand over) that holder's trust in its last renewal ends then.
    acquired_at: datetime | None = datetime_field()
    renewed_at: datetime | None = datetime_field()
    # How long after ``renewed_at`` the holder may still act without renewing: a process
    # taking over from a holder that did not hand over waits that out before it acts.
    trust_seconds: float | None = Field(default=None)
    released_at: datetime | None = datetime_field()
