"""The race state machine of the fake server, mirroring racetime-app's ``Race``/``Entrant``.

Every mutation records its system chat messages in ``Race.outbox`` and marks the race dirty
(``version`` bumped); the server then queues them for the room's sockets in the real order:
chat messages first, then ``race.data`` and ``race.renders``. Where racetime saves and
broadcasts in two steps (un-finishing a race), the steps are two methods and two broadcasts.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fake_racetime.models import Category, ChatMessage, User, new_hashid

MAX_MONITORS = 5
UNFINALIZED_WINDOW = timedelta(minutes=10)
EARLY_FINISH = timedelta(seconds=5)
COUNTDOWN_MARKS = (10, 5, 4, 3, 2, 1)

RACE_STATUS = {
    "open": ("Open", "Anyone may join this race"),
    "invitational": ("Invitational", "Only invitees may join this race"),
    "pending": ("Getting ready", "Waiting for race to begin"),
    "in_progress": ("In progress", "Race is in progress"),
    "finished": ("Finished", "This race has been completed"),
    "cancelled": ("Cancelled", "This race has been cancelled"),
    "partitioned": ("Partitioned", "Race has been partitioned into separate 1v1 races"),
}
PREPARING = ("open", "invitational")
DONE = ("finished", "cancelled", "partitioned")
# What a stale copy of a race does not bring back: it is the same room, with its chat.
_NOT_RESTORED = frozenset(
    {"category", "slug", "opened_at", "version", "messages", "outbox", "dirty", "extra_keys"}
)

_entrant_seq = itertools.count()
_T = TypeVar("_T")


class RaceActionError(Exception):
    """An action refused the way racetime refuses it (SafeException/SyncError text)."""


def timer_str(delta: timedelta) -> str:
    """racetime's ``timer_str``: ``H:MM:SS.t`` with tenths, truncated."""
    total = int(delta.total_seconds() * 10)
    tenths = total % 10
    seconds = total // 10
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}.{tenths}"


def _shallow_copy(obj: _T) -> _T:
    """``copy.copy`` of a plain dataclass, several times faster (it runs per broadcast)."""
    clone = object.__new__(type(obj))
    clone.__dict__.update(obj.__dict__)
    return clone


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class Entrant:
    user: User
    state: str = "joined"  # requested / invited / declined / joined (DB states)
    ready: bool = False
    dnf: bool = False
    dq: bool = False
    finish_time: timedelta | None = None
    place: int | None = None
    comment: str | None = None
    stream_live: bool = False
    stream_override: bool = False
    seq: int = field(default_factory=lambda: next(_entrant_seq))

    @property
    def joined(self) -> bool:
        return self.state == "joined"

    @property
    def running(self) -> bool:
        return self.joined and not self.dnf and not self.dq and self.finish_time is None


@dataclass
class Race:
    category: Category
    slug: str
    opened_at: datetime
    goal: str | None = None
    custom_goal: str | None = None
    status: str = "open"
    info_user: str | None = ""
    info_bot: str | None = ""
    team_race: bool = False
    ranked: bool = True
    unlisted: bool = False
    partitionable: bool = False
    hide_entrants: bool = False
    recordable: bool = True
    recorded: bool = False
    require_even_teams: bool = False
    start_delay: timedelta = timedelta(seconds=15)
    time_limit: timedelta = timedelta(hours=24)
    time_limit_auto_complete: bool = False
    streaming_required: bool = True
    auto_start: bool = True
    allow_comments: bool = True
    hide_comments: bool = False
    allow_prerace_chat: bool = True
    allow_midrace_chat: bool = True
    allow_non_entrant_chat: bool = True
    chat_message_delay: timedelta = timedelta(0)
    disqualify_unready: bool = False
    chat_restricted: bool = False
    opened_by: User | None = None
    opened_by_bot: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by_forfeit: bool = False
    version: int = 1
    entrants: list[Entrant] = field(default_factory=list)
    monitors: list[User] = field(default_factory=list)
    bot_meta: dict[str, Any] = field(default_factory=dict)
    messages: list[ChatMessage] = field(default_factory=list)
    countdown_posted: set[int] = field(default_factory=set)
    extra_keys: dict[str, Any] = field(default_factory=dict)
    # What the next flush must send: ("chat" | "pin" | "unpin" | "dm", ChatMessage).
    outbox: list[tuple[str, ChatMessage]] = field(default_factory=list)
    dirty: bool = False

    # -- helpers ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.category.slug}/{self.slug}"

    @property
    def is_preparing(self) -> bool:
        return self.status in PREPARING

    @property
    def is_done(self) -> bool:
        return self.status in DONE

    def touch(self) -> None:
        self.version += 1
        self.dirty = True

    def post(self, text: str, *, highlight: bool = False, now: datetime) -> ChatMessage:
        msg = ChatMessage(
            id=new_hashid(), posted_at=now, message=text, highlight=highlight, is_system=True
        )
        self.messages.append(msg)
        self.outbox.append(("chat", msg))
        return msg

    def entrant(self, user: User) -> Entrant | None:
        return next((e for e in self.entrants if e.user.id == user.id), None)

    def joined_entrants(self) -> list[Entrant]:
        return [e for e in self.entrants if e.joined]

    def num_unready(self) -> int:
        return sum(1 for e in self.joined_entrants() if not e.ready)

    def can_monitor(self, user: User) -> bool:
        return (
            self.category.can_moderate(user)
            or (self.opened_by is not None and self.opened_by.id == user.id)
            or any(m.id == user.id for m in self.monitors)
        )

    def can_join(self, user: User, active_elsewhere: bool) -> bool:
        return (
            self.entrant(user) is None
            and (not self.streaming_required or user.twitch_channel is not None)
            and not active_elsewhere
        )

    def is_unfinalized(self, now: datetime) -> bool:
        ended = self.ended_at
        finished = self.status == "finished" or (
            self.status == "cancelled" and self.cancelled_by_forfeit
        )
        return (
            finished
            and not self.recorded
            and ended is not None
            and (now - ended < UNFINALIZED_WINDOW)
        )

    def can_begin(self) -> bool:
        joined = self.joined_entrants()
        if not self.disqualify_unready:
            joined = [e for e in joined if e.ready]
        return self.is_preparing and len(joined) >= 2

    def chat_closed(self, now: datetime) -> bool:
        """Chat closes an hour after the race ended (approximation of racetime's rule)."""
        end = self.ended_at or self.cancelled_at
        return self.is_done and end is not None and now - end > timedelta(hours=1)

    def recalculate_places(self) -> None:
        finished = sorted(
            (e for e in self.joined_entrants() if e.finish_time and not e.dnf and not e.dq),
            key=lambda e: e.finish_time or timedelta(0),
        )
        for e in self.entrants:
            e.place = None
        for place, e in enumerate(finished, start=1):
            e.place = place

    # -- racer actions (user side) ---------------------------------------------------------

    def join(self, user: User, now: datetime, *, active_elsewhere: bool = False) -> None:
        if self.can_join(user, active_elsewhere) and (
            self.status == "open" or (self.status == "invitational" and self.can_monitor(user))
        ):
            self.entrants.append(Entrant(user=user, stream_live=user.stream_live))
            self.touch()
            self.post(f"{user} joins the race.", now=now)
        else:
            raise RaceActionError("You are not eligible to join this race.")

    def request_invite(self, user: User, now: datetime, *, active_elsewhere: bool = False) -> None:
        if self.can_monitor(user):
            self.join(user, now, active_elsewhere=active_elsewhere)
            return
        if self.can_join(user, active_elsewhere) and self.status == "invitational":
            self.entrants.append(
                Entrant(user=user, state="requested", stream_live=user.stream_live)
            )
            self.touch()
            self.post(f"{user} requests to join the race.", now=now)
        else:
            raise RaceActionError("You are not eligible to join this race.")

    def cancel_request(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if e is None or e.state != "requested":
            raise RaceActionError("You do not have a join request to cancel. Refresh to continue.")
        self.entrants.remove(e)
        self.touch()
        self.post(f"{user} withdraws a request to join.", now=now)

    def accept_invite(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if e is None or e.state != "invited":
            raise RaceActionError(
                "You have not been invited to join this race. Refresh to continue."
            )
        e.state = "joined"
        self.touch()
        self.post(f"{user} accepts an invitation to join.", now=now)

    def decline_invite(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if e is None or e.state != "invited":
            raise RaceActionError(
                "You have not been invited to join this race. Refresh to continue."
            )
        # racetime deletes the entry (the "declined" DB state is never reached this way).
        self.entrants.remove(e)
        self.touch()
        self.post(f"{user} declines an invitation to join.", now=now)

    def leave(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if e is None or not e.joined:
            raise RaceActionError(
                "You cannot leave this race because you are not an entrant anyway. "
                "Refresh to continue."
            )
        if not self.is_preparing:
            raise RaceActionError(
                "You cannot leave this race because the race has already started. "
                "Refresh to continue."
            )
        self.entrants.remove(e)
        self.touch()
        self.post(f"{user} quits the race.", now=now)

    def ready(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if (
            e is not None
            and e.joined
            and self.is_preparing
            and not self.partitionable
            and not e.ready
            and (not self.streaming_required or e.stream_live or e.stream_override)
        ):
            e.ready = True
            self.touch()
            self.post(f"{user} is ready! ({self.num_unready()} remaining)", now=now)
        else:
            raise RaceActionError("You cannot ready up at this time. Refresh to continue.")

    def unready(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if e is not None and e.joined and self.is_preparing and e.ready:
            e.ready = False
            self.touch()
            self.post(f"{user} is not ready. ({self.num_unready()} remaining)", now=now)
        else:
            raise RaceActionError("You cannot unready at this time. Refresh to continue.")

    def done(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if (
            e is None
            or not e.joined
            or self.status != "in_progress"
            or not e.ready
            or not e.running
            or self.started_at is None
        ):
            raise RaceActionError("You cannot finish at this time. Refresh to continue.")
        finish_time = now - self.started_at
        if finish_time < EARLY_FINISH:
            raise RaceActionError("You cannot finish this early. Did you hit .done by accident?")
        e.finish_time = finish_time
        self.recalculate_places()
        self.touch()
        self.post(
            f"{user} has ##good##finished## in {ordinal(e.place or 0)} place "
            f"with a time of {timer_str(finish_time)}!",
            now=now,
        )

    def forfeit(self, user: User, now: datetime) -> None:
        e = self.entrant(user)
        if (
            e is None
            or self.status != "in_progress"
            or not e.ready
            or not e.running
            or self.started_at is None
        ):
            raise RaceActionError("You cannot forfeit at this time. Refresh to continue.")
        if now - self.started_at < EARLY_FINISH:
            raise RaceActionError(
                "You cannot forfeit this early. If you are using an auto-splitter, you should "
                "configure it to not auto-reset the timer when starting a run."
            )
        e.dnf = True
        self.touch()
        self.post(f"{user} has ##bad##forfeited## from the race.", now=now)

    def undone(self, user: User, now: datetime) -> None:
        """Take back a finish; then ``unfinish_if_unfinalized`` (a broadcast of its own)."""
        e = self.entrant(user)
        if (
            e is None
            or not e.joined
            or not (self.status == "in_progress" or self.is_unfinalized(now))
            or not e.ready
            or e.dnf
            or e.dq
            or e.finish_time is None
        ):
            raise RaceActionError("You cannot undo your finish at this time. Refresh to continue.")
        e.finish_time = None
        e.place = None
        e.comment = None
        self.recalculate_places()
        self.touch()
        self.post(f"{user} is no longer done.", now=now)

    def unforfeit(self, user: User, now: datetime) -> None:
        """Take back a forfeit; then ``unfinish_if_unfinalized`` (a broadcast of its own)."""
        e = self.entrant(user)
        if (
            e is None
            or not e.joined
            or not (self.status == "in_progress" or self.is_unfinalized(now))
            or not e.ready
            or not e.dnf
            or e.dq
            or e.finish_time is not None
        ):
            raise RaceActionError("You cannot undo your forfeit at this time. Refresh to continue.")
        e.dnf = False
        e.comment = None
        self.touch()
        self.post(f"{user} has un-forfeited from the race.", now=now)

    def unfinish_if_unfinalized(self, now: datetime) -> None:
        """The second step of ``undone``/``unforfeit``: reopen a race ended minutes ago.

        racetime saves (and broadcasts) the entrant first, with the race still finished,
        and only then restarts the race: two ``race.data`` frames.
        """
        if not self.is_unfinalized(now):
            return
        self.status = "in_progress"
        self.ended_at = None
        self.cancelled_at = None
        self.cancelled_by_forfeit = False
        self.recordable = not self.custom_goal
        self.touch()
        self.post("Race timer restarted.", highlight=True, now=now)

    # -- monitor / bot actions -------------------------------------------------------------

    def invite(self, user: User, by: str, now: datetime, *, active_elsewhere: bool) -> None:
        if self.entrant(user) is not None:
            raise RaceActionError(f"{user} is already an entrant.")
        if not self.can_join(user, active_elsewhere):
            raise RaceActionError(f"{user} is not allowed to join this race.")
        if not self.is_preparing:
            raise RaceActionError("User is not eligible to join this race.")
        self.entrants.append(Entrant(user=user, state="invited", stream_live=user.stream_live))
        self.touch()
        self.post(f"{by} invites {user} to join the race.", now=now)

    def _entrant_or_error(self, user: User) -> Entrant:
        e = self.entrant(user)
        if e is None:
            raise RaceActionError("Specified user is not a race entrant.")
        return e

    def accept_request(self, user: User, by: str, now: datetime) -> None:
        e = self._entrant_or_error(user)
        if e.state != "requested":
            raise RaceActionError(
                "This user has not requested to join this race. Refresh to continue."
            )
        e.state = "joined"
        self.touch()
        self.post(f"{by} accepts a request to join from {user}.", now=now)

    def force_unready(self, user: User, by: str, now: datetime) -> None:
        e = self._entrant_or_error(user)
        if not (e.joined and self.is_preparing and e.ready):
            raise RaceActionError(
                "You cannot force this entrant to unready at this time. Refresh to continue."
            )
        e.ready = False
        self.touch()
        self.post(f"{by} unreadies {user}.", now=now)

    def remove_entrant(self, user: User, by: str, now: datetime) -> None:
        e = self._entrant_or_error(user)
        if e.state == "declined" or not self.is_preparing:
            raise RaceActionError(
                "You cannot remove this entrant at this time. Refresh to continue."
            )
        self.entrants.remove(e)
        self.touch()
        self.post(f"{by} removes {user} from the race.", now=now)

    def add_monitor(self, user: User, by: str, now: datetime) -> None:
        self._entrant_or_error(user)
        # racetime compares with ">" (so a sixth monitor still gets in); kept as is.
        if len(self.monitors) > MAX_MONITORS:
            raise RaceActionError(f"Races cannot have more than {MAX_MONITORS} monitors.")
        if self.is_done or self.can_monitor(user):
            return
        self.monitors.append(user)
        self.touch()
        self.post(f"{by} promoted {user} to race monitor.", now=now)

    def remove_monitor(self, user: User, by: str, now: datetime) -> None:
        self._entrant_or_error(user)
        if self.is_done or not any(m.id == user.id for m in self.monitors):
            return
        self.monitors = [m for m in self.monitors if m.id != user.id]
        self.touch()
        self.post(f"{by} demoted {user} from race monitor.", now=now)

    def override_stream(self, user: User, by: str, now: datetime) -> None:
        e = self._entrant_or_error(user)
        if not (
            e.joined
            and self.is_preparing
            and self.streaming_required
            and not self.partitionable
            and not e.stream_live
            and not e.stream_override
        ):
            raise RaceActionError(
                "You cannot set a stream override for this entrant at this time. "
                "Refresh to continue."
            )
        e.stream_override = True
        self.touch()
        self.post(f"{by} sets a stream override for {user}.", now=now)

    def make_open(self, by: str, now: datetime) -> None:
        if self.status != "invitational":
            raise RaceActionError("Race is not an invitational.")
        self.status = "open"
        self.touch()
        self.post(f"{by} sets the race to be open. Anyone may now join.", now=now)

    def make_invitational(self, by: str, now: datetime) -> None:
        if self.status != "open":
            raise RaceActionError("Race is not open.")
        self.status = "invitational"
        self.touch()
        self.post(f"{by} sets the race to be invite only.", now=now)

    def begin(self, now: datetime, by: str | None = None) -> None:
        if not self.can_begin():
            raise RaceActionError("Race cannot be started yet.")
        for e in list(self.entrants):
            if e.joined and e.ready:
                continue
            if self.disqualify_unready:
                e.dq = True
                self.post(f"{e.user} has been disqualified from the race.", now=now)
            else:
                self.entrants.remove(e)
                self.post(f"{e.user} is removed from the race.", now=now)
        self.status = "pending"
        self.started_at = now + self.start_delay
        self.touch()
        if by:
            self.post(
                f"{by} has initiated the race. "
                f"The race will begin in {self.start_delay.seconds} seconds!",
                highlight=True,
                now=now,
            )

    def cancel(self, now: datetime, by: str | None = None) -> None:
        if self.is_done:
            raise RaceActionError(f"Cannot cancel a race that is in {self.status} state.")
        self.status = "cancelled"
        self.unlisted = False
        self.recordable = False
        self.cancelled_at = now
        if self.started_at is not None:
            self.ended_at = now
            for e in self.entrants:
                if e.running:
                    e.dnf = True
        self.touch()
        if by:
            self.post(f"This race has been cancelled by {by}.", now=now)

    def finish(self, now: datetime) -> None:
        self.ended_at = now
        self.status = "finished"
        if not any(e.finish_time and not e.dnf and not e.dq for e in self.joined_entrants()) and (
            not self.time_limit_auto_complete
        ):
            self.status = "cancelled"
            self.cancelled_at = now
            self.cancelled_by_forfeit = True
            self.recordable = False
        if not self.recordable:
            self.unlisted = False
        for e in self.entrants:
            if e.running:
                e.dnf = True
        self.touch()
        if self.status == "finished" and self.started_at is not None:
            elapsed = timer_str(now - self.started_at)
            self.post(f"Race finished in {elapsed}", highlight=True, now=now)
        else:
            self.post(
                "This race has been cancelled due to all entrants forfeiting.",
                highlight=True,
                now=now,
            )

    # -- the racebot process ---------------------------------------------------------------

    def wants_auto_start(self) -> bool:
        """Everyone joined is ready: the racebot will begin the race."""
        return self.is_preparing and self.auto_start and self.can_begin() and not self.num_unready()

    def wants_finish(self, now: datetime) -> bool:
        """Nobody is running any more, or the time limit passed: the racebot will finish it."""
        if self.status != "in_progress" or self.started_at is None:
            return False
        over_time = now >= self.started_at + self.time_limit
        return over_time or not any(e.running for e in self.entrants)

    def tick(self, now: datetime, *, may_start: bool = True, may_finish: bool = True) -> None:
        """What racetime's ``racebot`` does for this race at time ``now``.

        ``may_start``/``may_finish`` say whether the racebot has got round to noticing an
        auto-start or a finish yet (see ``FakeRacetimeServer.adoption_delay``).
        """
        if may_start and self.wants_auto_start():
            self.begin(now)
            self.post(
                f"Everyone is ready. The race will begin in {self.start_delay.seconds} seconds!",
                highlight=True,
                now=now,
            )
        if self.status == "pending" and self.started_at is not None:
            self._count_down(now)
            return
        if may_finish and self.wants_finish(now):
            self.finish(now)

    def _count_down(self, now: datetime) -> None:
        assert self.started_at is not None
        remaining = (self.started_at - now).total_seconds()
        for mark in COUNTDOWN_MARKS:
            if remaining <= mark and mark not in self.countdown_posted:
                self.countdown_posted.add(mark)
                self.post(f"{mark}\u2026", now=now)
        if remaining <= 0:
            self.status = "in_progress"
            self.touch()
            self.post("The race has begun! Good luck and have fun.", highlight=True, now=now)

    # -- stale copies (the racebot saving an old copy over a newer one) --------------------

    def copy_state(self) -> Race:
        """The race row and its entrants as they are now (chat excluded)."""
        stale = _shallow_copy(self)
        stale.entrants = [_shallow_copy(e) for e in self.entrants]
        stale.monitors = list(self.monitors)
        stale.bot_meta = dict(self.bot_meta)
        stale.countdown_posted = set(self.countdown_posted)
        stale.extra_keys = dict(self.extra_keys)
        stale.messages = []
        stale.outbox = []
        stale.dirty = False
        return stale

    def restore_state(self, stale: Race) -> None:
        """Take every setting, status and entrant of ``stale``; keep chat, identity, version."""
        copy = stale.copy_state()
        for f in dataclasses.fields(self):
            if f.name not in _NOT_RESTORED:
                setattr(self, f.name, getattr(copy, f.name))
