"""A tournament's schedule imported from a CSV file (``/match import``) or pushed line by line
through the HTTP API: planned line by line, shown, then applied through :class:`MatchService`
(the same checks, audit and events as ``/match schedule``).

**The file.** UTF-8 (a spreadsheet's byte-order mark is fine), a header row naming the
columns, separated by commas (or semicolons, or tabs: the header decides). Columns, any
order and case: ``round``, ``players``, ``when`` (required); ``title``, ``goal``, ``key``,
``tournament`` (optional). ``players`` lists each player separated by ``|`` (or ``;`` when
the columns are separated by commas): a Discord id, a mention (``<@id>``), a Discord name of
a member of the server, or the racetime.gg name of a linked account (``Ada#1234``, or
``Ada`` when only one linked account has that name). ``when`` is a time with its zone
(``2026-12-19 19:00 Europe/Berlin``, ``2026-12-19T19:00+01:00``, a Discord timestamp): a
schedule is read by many people in many zones, so a time without one is refused rather
than guessed.

**Which match a line is** (its import key, the ``matches.import_key`` column, unique per
tournament): the ``key`` cell when the file has one (``key:`` and the cell, spacing
collapsed, any case), else its round and players (``players:`` and a digest of the round
and the players' Discord ids, in any order). Importing the same file again finds every
line's match unchanged; a line whose time, title, goal or round changed updates its match
(a new time only before the room opens, and the players are told, as with ``/match
reschedule``). With derived keys a line with other players is another match; with a key
column the players of a match never change (cancel it and import it under a new key).
A column that is absent leaves what it would set alone (a match keeps its title and goal);
a blank ``goal`` cell means the tournament's goal.

**Refused lines** say why, each on its own: a missing or unreadable cell, an unknown player,
a time in the past, the same match twice with different details (every such line), a player
in two matches at the same time (the later line), a match that can no longer change.
A line repeated exactly is skipped. Nothing is written until :meth:`ScheduleImports.apply`,
which plans again first: a file that no longer means what the preview showed (a match moved
or cancelled meanwhile) changes nothing and asks for a new preview.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.errors import UserFacingError
from core.times.parsing import discord_timestamp, parse_time
from core.tournaments.match_info import MatchInfo, RoomStatus
from core.tournaments.matches import (
    TITLE_MAX,
    MatchService,
    check_future,
    check_players,
    clean_round,
    clean_title,
)
from core.tournaments.tournaments import (
    TournamentInfo,
    TournamentService,
    TournamentSettings,
    clean_goal,
)
from db.models import RaceStatus
from db.queries import matches as queries

MAX_BYTES = 256 * 1024  # a season's schedule is a few kilobytes
MAX_LINES = 500  # matches in one file
KEY_MAX = 100  # characters of a ``key`` cell
PLAYERS_MAX = 16
REQUIRED = ("round", "players", "when")
OPTIONAL = ("title", "goal", "key", "tournament")
_MENTION = re.compile(r"<@!?(\d{15,20})>")
_SNOWFLAKE = re.compile(r"\d{15,20}")
# Two zones a time without its own cannot be read the same in (see ``read_time``); the first
# is the one the examples in a "cannot read this" message are given in.
_PROBES = (UTC, timezone(timedelta(hours=7)))


class Outcome(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # the same as an earlier line
    REFUSED = "refused"


class MemberNames(Protocol):
    """What the server's members are called (the Discord side answers; the HTTP API has
    none: there only Discord ids and racetime.gg names name a player)."""

    async def named(self, name: str) -> list[tuple[int, str]]:
        """(Discord id, display name) of each member called ``name`` (any case)."""
        ...

    async def display_name(self, discord_id: int) -> str | None:
        """The member's name, or ``None`` when they are not a member of the server."""
        ...


class NoMemberNames:
    """Outside Discord: no names to look up, and any Discord id is taken as given."""

    async def named(self, name: str) -> list[tuple[int, str]]:
        return []

    async def display_name(self, discord_id: int) -> str | None:
        return f"<@{discord_id}>"


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """One match as a file's line (or an API request) gives it; ``None``: the column is
    absent (leave it alone), ``""``: the cell is blank."""

    line: int  # the line number in the file (the header is line 1)
    round: str | None
    players: tuple[str, ...]
    when: str
    title: str | None = None
    goal: str | None = None
    key: str | None = None
    tournament: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """What importing one line does, and why."""

    line: int
    outcome: Outcome
    summary: str  # "Round 1 · Ada vs Bob · <t:…:F>", or the line's cells when unreadable
    why: str | None = None  # refused or skipped: why; update: what changes
    match_id: int | None = None  # the match it updates (or created, once applied)
    # What applying it writes (create and update):
    tournament: str | None = None
    key: str | None = None
    player_ids: tuple[int, ...] = ()
    names: Mapping[int, str] = field(default_factory=dict)
    when: datetime | None = None
    title: str | None = None
    set_title: bool = False  # the file gives the title (else a new match is named for its
    goal: str | None = None  # round and players, and an existing one keeps its own)
    set_goal: bool = False
    round: str | None = None

    @property
    def action(self) -> tuple[object, ...]:
        """What it would do, and to what (``why`` says what a match is now): two plans that
        agree on this for every line apply the same."""
        return (
            self.line, self.outcome, self.why, self.match_id, self.key, self.when, self.title,
            self.goal, self.round, self.player_ids,
        )


@dataclass(frozen=True, slots=True)
class ImportPlan:
    lines: tuple[PlannedLine, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for line in self.lines if line.outcome is outcome)

    @property
    def changes(self) -> int:
        """Lines that would write something."""
        return self.count(Outcome.CREATE) + self.count(Outcome.UPDATE)

    def same_as(self, other: ImportPlan) -> bool:
        return [line.action for line in self.lines] == [line.action for line in other.lines]


class PlanChangedError(UserFacingError):
    """The file no longer means what its preview showed."""


# -- reading the file ---------------------------------------------------------------------------


def read_csv(data: bytes) -> list[ScheduleLine]:
    """The file's lines; refuses a file too large, not text, without the columns."""
    if len(data) > MAX_BYTES:
        raise UserFacingError(
            f"The file is {len(data) // 1024} KB; an import takes at most {MAX_BYTES // 1024} "
            f"KB ({MAX_LINES} matches). Split the schedule into several files."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserFacingError(
            "The file is not UTF-8 text. Save it as CSV (UTF-8) from your spreadsheet."
        ) from None
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header_line.count)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        raise UserFacingError(f"The file is empty. {_COLUMNS_HELP}")
    header = [" ".join(cell.split()).casefold() for cell in rows[0]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        listed = ", ".join(f"`{name}`" for name in missing)
        raise UserFacingError(f"The header row has no {listed} column. {_COLUMNS_HELP}")
    unknown = [name for name in header if name and name not in REQUIRED + OPTIONAL]
    if unknown:
        listed = ", ".join(f"`{name}`" for name in unknown[:5])
        raise UserFacingError(f"The header row has unknown columns: {listed}. {_COLUMNS_HELP}")
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(
        cell.strip() for cell in row
    )]
    if not body:
        raise UserFacingError(f"The file has a header row and no matches. {_COLUMNS_HELP}")
    if len(body) > MAX_LINES:
        raise UserFacingError(
            f"The file has {len(body)} matches; an import takes at most {MAX_LINES}. Split "
            "the schedule into several files."
        )
    player_sep = r"\|" if delimiter == ";" else "[|;]"
    lines = []
    for number, row in body:
        cells = {name: row[index] if index < len(row) else "" for index, name in enumerate(header)}
        players = tuple(
            part.strip() for part in re.split(player_sep, cells["players"]) if part.strip()
        )
        lines.append(ScheduleLine(
            line=number, round=_cell(cells, "round"), players=players,
            when=cells["when"].strip(), title=_cell(cells, "title") or None,
            goal=_cell(cells, "goal"), key=_cell(cells, "key") or None,
            tournament=_cell(cells, "tournament") or None,
        ))
    return lines


def _cell(cells: Mapping[str, str], name: str) -> str | None:
    """The cell's text, or ``None`` when the file has no such column."""
    return cells[name].strip() if name in cells else None


_COLUMNS_HELP = (
    "The first row names the columns: `round`, `players` (separated by `|` or `;`), `when` "
    "(a time with its zone, e.g. `2026-12-19 19:00 Europe/Berlin`), and optionally `title`, "
    "`goal`, `key`, `tournament`."
)


def import_key(line: ScheduleLine, round_: str, player_ids: Iterable[int]) -> str:
    """The line's match, whatever else about it changes (see the module's docstring)."""
    if line.key:
        return "key:" + " ".join(line.key.split()).casefold()
    ids = ",".join(str(player) for player in sorted(player_ids))
    digest = hashlib.sha256(f"{round_.casefold()}\n{ids}".encode()).hexdigest()[:40]
    return f"players:{digest}"


def read_time(text: str, now: datetime) -> datetime:
    """``text`` as a time; refused when it names no zone (it would read differently in two
    zones), in the past, or too far ahead."""
    if not text:
        raise UserFacingError("No time given in `when`.")
    first = parse_time(text, _PROBES[0], now=now)
    if parse_time(text, _PROBES[1], now=now) != first:
        raise UserFacingError(
            f"`{text}` has no timezone; add one, e.g. `{text} Europe/Berlin` or `{text} UTC`."
        )
    check_future(first, now)
    return first


# -- the service --------------------------------------------------------------------------------


class ScheduleImports:
    """Plans and applies imported schedules for organizers and API tokens."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        matches: MatchService,
        tournaments: TournamentService,
        *,
        access: AccessPolicy,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._matches = matches
        self._tournaments = tournaments
        self._access = access

    async def plan(
        self,
        guild_id: int,
        lines: Sequence[ScheduleLine],
        *,
        actor: Actor,
        tournament: str | None = None,
        members: MemberNames | None = None,
    ) -> ImportPlan:
        """What importing ``lines`` into the server's tournament (``tournament``, unless a
        line names its own) would do, line by line; writes nothing."""
        await self._access.require(actor, Permission.SCHEDULE_MATCHES, guild_id)
        if tournament is not None:
            await self.find(guild_id, tournament)  # a wrong name is one answer, not one a line
        elif any(line.tournament is None for line in lines):
            raise UserFacingError(
                "Choose the tournament these matches belong to (or name it in a `tournament` "
                "column)."
            )
        planner = _Planner(self, guild_id, tournament, members or NoMemberNames())
        return await planner.plan(lines)

    async def apply(
        self,
        guild_id: int,
        lines: Sequence[ScheduleLine],
        shown: ImportPlan,
        *,
        actor: Actor,
        tournament: str | None = None,
        members: MemberNames | None = None,
    ) -> ImportPlan:
        """Plan again and, if the plan is still ``shown``, create and update its matches;
        returns what happened to each line (a line refused while applying says why)."""
        plan = await self.plan(
            guild_id, lines, actor=actor, tournament=tournament, members=members
        )
        if not plan.same_as(shown):
            raise PlanChangedError(
                "The schedule's matches changed since the preview (a match was moved, "
                "cancelled or imported meanwhile), so nothing was imported. Run the import "
                "again to see what it would do now."
            )
        done = [await self.apply_line(guild_id, line, actor=actor) for line in plan.lines]
        return ImportPlan(tuple(done))

    async def apply_line(self, guild_id: int, line: PlannedLine, *, actor: Actor) -> PlannedLine:
        """Write one planned line (create or update); others are returned as they are."""
        try:
            if line.outcome is Outcome.CREATE:
                assert line.tournament is not None and line.when is not None
                created = await self._matches.schedule(
                    guild_id, line.tournament, line.player_ids, line.when,
                    line.title or "", actor=actor, goal=line.goal,
                    display_names=line.names, round=line.round, import_key=line.key,
                )
                return replace(line, match_id=created.id)
            if line.outcome is Outcome.UPDATE:
                assert line.match_id is not None
                await self._matches.update(
                    guild_id, line.match_id, actor=actor, when=line.when, title=line.title,
                    round=line.round, **({"goal": line.goal} if line.set_goal else {}),
                )
        except UserFacingError as error:
            return replace(line, outcome=Outcome.REFUSED, why=error.message)
        except IntegrityError:
            return replace(
                line, outcome=Outcome.REFUSED,
                why="This match was imported by someone else at the same moment.",
            )
        return line

    async def find(self, guild_id: int, tournament: str) -> TournamentInfo:
        return await self._tournaments.get(guild_id, tournament, include_archived=False)

    async def linked(self, names: Iterable[str]) -> list[tuple[int, str]]:
        """(Discord id, racetime name) of linked accounts with these racetime names."""
        async with self._sessionmaker() as session:
            users = await queries.users_by_racetime_name(session, names)
        return [(user.discord_id, user.racetime_name or "") for user in users]

    async def unlinked(self, discord_ids: Iterable[int]) -> set[int]:
        ids = set(discord_ids)
        async with self._sessionmaker() as session:
            known = await queries.users_by_discord_id(session, ids)
        return {player for player in ids if player not in known or not known[player].racetime_id}

    async def existing(
        self, guild_id: int, tournament_id: int, keys: Iterable[str]
    ) -> dict[str, MatchInfo]:
        async with self._sessionmaker() as session:
            found = await queries.matches_by_import_key(session, tournament_id, keys)
        return {key: await self._matches.info(guild_id, match.id or 0) for key, match in
                found.items()}

    def now(self) -> datetime:
        return self._matches.now()


@dataclass(slots=True)
class _Checked:
    """A line read and checked on its own, before it meets the others and the database."""

    planned: PlannedLine
    tournament: TournamentInfo | None = None


class _Planner:
    def __init__(
        self, imports: ScheduleImports, guild_id: int, tournament: str | None,
        members: MemberNames,
    ) -> None:
        self._imports = imports
        self._guild_id = guild_id
        self._tournament = tournament
        self._members = members
        self._tournaments: dict[str, TournamentInfo | UserFacingError] = {}
        self._players_by_text: dict[str, tuple[int, str] | UserFacingError] = {}
        self._now = imports.now()

    async def plan(self, lines: Sequence[ScheduleLine]) -> ImportPlan:
        checked = [await self._check(line) for line in lines]
        _refuse_conflicts(checked)
        await self._against_database(checked)
        return ImportPlan(tuple(item.planned for item in checked))

    async def _check(self, line: ScheduleLine) -> _Checked:
        shown = _cells(line)
        try:
            found = await self._tournament_of(line)
            round_ = clean_round(line.round)
            if round_ is None:
                raise UserFacingError("No round given in `round`.")
            ids, names = await self._players(line.players)
            check_players(ids, names)
            if len(ids) > PLAYERS_MAX:
                raise UserFacingError(f"A match can have at most {PLAYERS_MAX} players.")
            when = read_time(line.when, self._now)
            title = clean_title(line.title) if line.title else None
            goal = clean_goal(line.goal)
            if line.key and len(line.key) > KEY_MAX:
                raise UserFacingError(f"A key can be at most {KEY_MAX} characters.")
            settings: TournamentSettings = found.settings
            if settings.require_racetime_link:
                unlinked = await self._imports.unlinked(ids)
                if unlinked:
                    listed = ", ".join(names.get(p, f"<@{p}>") for p in ids if p in unlinked)
                    raise UserFacingError(
                        f"**{found.name}** requires linked racetime.gg accounts; {listed} "
                        "has not linked one (`/link-racetime`)."
                    )
        except UserFacingError as error:
            return _Checked(PlannedLine(line.line, Outcome.REFUSED, shown, why=error.message))
        versus = " vs ".join(names[player] for player in ids)
        planned = PlannedLine(
            line.line, Outcome.CREATE, f"{title or round_} · {versus} · {_at(when)}",
            tournament=found.name, key=import_key(line, round_, ids), player_ids=tuple(ids),
            names=names, when=when, title=title or _default_title(round_, versus),
            set_title=title is not None, goal=goal, set_goal=line.goal is not None,
            round=round_,
        )
        return _Checked(planned, found)

    async def _tournament_of(self, line: ScheduleLine) -> TournamentInfo:
        name = line.tournament or self._tournament
        if not name:
            raise UserFacingError(
                "No tournament: choose one for the import, or name it in a `tournament` column."
            )
        key = " ".join(name.split()).casefold()
        if key not in self._tournaments:
            try:
                self._tournaments[key] = await self._imports.find(self._guild_id, name)
            except UserFacingError as error:
                self._tournaments[key] = error
        found = self._tournaments[key]
        if isinstance(found, UserFacingError):
            raise found
        return found

    async def _players(self, written: Sequence[str]) -> tuple[list[int], dict[int, str]]:
        if not written:
            raise UserFacingError("No players given in `players`.")
        ids: list[int] = []
        names: dict[int, str] = {}
        for text in written:
            if text not in self._players_by_text:
                try:
                    self._players_by_text[text] = await self._player(text)
                except UserFacingError as error:
                    self._players_by_text[text] = error
            found = self._players_by_text[text]
            if isinstance(found, UserFacingError):
                raise found
            player, name = found
            ids.append(player)
            names.setdefault(player, name)
        return ids, names

    async def _player(self, text: str) -> tuple[int, str]:
        mention = _MENTION.fullmatch(text)
        if mention is not None or _SNOWFLAKE.fullmatch(text):
            discord_id = int(mention[1] if mention is not None else text)
            name = await self._members.display_name(discord_id)
            if name is None:
                raise UserFacingError(f"<@{discord_id}> is not a member of this server.")
            return discord_id, name
        candidates = dict(await self._imports.linked([text]))
        exact = {
            player: name for player, name in candidates.items()
            if name.casefold() == text.casefold()
        }
        by_racetime = exact or candidates
        by_discord = dict(await self._members.named(text))
        found = {**by_racetime, **by_discord}
        if len(found) == 1:
            player, name = next(iter(found.items()))
            return player, by_discord.get(player, name)
        if not found:
            raise UserFacingError(
                f"`{text}` is not a Discord id, a member of this server, nor a linked "
                "racetime.gg account."
            )
        listed = ", ".join(f"<@{player}>" for player in list(found)[:5])
        raise UserFacingError(f"`{text}` could be {listed}; give their Discord id instead.")

    async def _against_database(self, checked: list[_Checked]) -> None:
        by_tournament: dict[int, list[_Checked]] = {}
        for item in checked:
            if item.planned.outcome is Outcome.CREATE and item.tournament is not None:
                by_tournament.setdefault(item.tournament.id, []).append(item)
        for tournament_id, items in by_tournament.items():
            existing = await self._imports.existing(
                self._guild_id, tournament_id, [item.planned.key or "" for item in items]
            )
            for item in items:
                found = existing.get(item.planned.key or "")
                if found is not None:
                    item.planned = _against(item.planned, found)


def _cells(line: ScheduleLine) -> str:
    parts = [line.round or "", " | ".join(line.players), line.when]
    return " · ".join(part for part in parts if part) or "(empty line)"


def _same_match(a: PlannedLine, b: PlannedLine) -> bool:
    return (a.player_ids, a.when, a.title, a.goal, a.set_goal, a.round) == (
        b.player_ids, b.when, b.title, b.goal, b.set_goal, b.round
    )


def _at(when: datetime) -> str:
    return discord_timestamp(when, "f")


def _default_title(round_: str, versus: str) -> str:
    title = f"{round_}: {versus}"
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _refuse_conflicts(checked: list[_Checked]) -> None:
    """Refuse lines that are the same match with other details (all of them), skip exact
    repeats, and refuse a later line that puts a player in two matches at one time."""
    first_of: dict[tuple[str | None, str | None], list[_Checked]] = {}
    for item in checked:
        if item.planned.outcome is Outcome.CREATE:
            first_of.setdefault((item.planned.tournament, item.planned.key), []).append(item)
    for group in first_of.values():
        first = group[0].planned
        if all(_same_match(first, other.planned) for other in group[1:]):
            for other in group[1:]:
                other.planned = replace(
                    other.planned, outcome=Outcome.SKIPPED,
                    why=f"Repeats line {first.line}.",
                )
            continue
        numbers = ", ".join(str(item.planned.line) for item in group)
        for item in group:
            item.planned = replace(
                item.planned, outcome=Outcome.REFUSED,
                why=f"Lines {numbers} are the same match with different details; keep one.",
            )
    busy: dict[tuple[str | None, int, datetime | None], int] = {}
    for item in checked:
        planned = item.planned
        if planned.outcome is not Outcome.CREATE:
            continue
        clash = next(
            (
                (player, busy[(planned.tournament, player, planned.when)])
                for player in planned.player_ids
                if (planned.tournament, player, planned.when) in busy
            ),
            None,
        )
        if clash is not None:
            player, line = clash
            item.planned = replace(
                planned, outcome=Outcome.REFUSED,
                why=f"{planned.names.get(player)} already plays at this time (line {line}).",
            )
            continue
        for player in planned.player_ids:
            busy[(planned.tournament, player, planned.when)] = planned.line


def _against(planned: PlannedLine, match: MatchInfo) -> PlannedLine:
    """The line against the match its key already made: unchanged, an update, or refused."""
    on_match = replace(planned, match_id=match.id)
    changes = []
    if planned.when != match.scheduled_at:
        old = _at(match.scheduled_at) if match.scheduled_at else "no time"
        changes.append(f"time {old} → {_at(planned.when or _EPOCH)}")
    if planned.set_title and planned.title != match.title:
        changes.append(f"title → {planned.title}")
    if planned.set_goal and planned.goal != (match.goal if match.goal_from == "match" else None):
        changes.append(f"goal → {planned.goal or 'the tournament' + chr(39) + 's'}")
    if planned.round != match.round:
        changes.append(f"round → {planned.round}")
    if not changes:
        return replace(on_match, outcome=Outcome.UNCHANGED, why=f"Match #{match.id}.")
    refusal = _cannot_change(planned, match)
    if refusal is not None:
        return replace(on_match, outcome=Outcome.REFUSED, why=refusal)
    return replace(
        on_match, outcome=Outcome.UPDATE, why=f"Match #{match.id}: " + "; ".join(changes),
        when=planned.when if planned.when != match.scheduled_at else None,
        title=planned.title if planned.set_title else None,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cannot_change(planned: PlannedLine, match: MatchInfo) -> str | None:
    what = f"Match #{match.id}"
    if match.status is RaceStatus.CANCELLED:
        return f"{what} is cancelled; give the line a new `key` to schedule it again."
    if match.status is RaceStatus.FINISHED:
        return f"{what} is finished, so it cannot change."
    if {player.discord_id for player in match.players} != set(planned.player_ids):
        return (
            f"{what} has other players; the players of a match never change. Cancel it "
            "with `/match cancel` and give this line a new `key`."
        )
    opened = match.status is not RaceStatus.SCHEDULED or match.room.status not in (
        RoomStatus.NONE, RoomStatus.FAILED,
    )
    if planned.when != match.scheduled_at and opened:
        return (
            f"{what}'s room is already {match.room.status.value}, so its time can no longer "
            "change. Cancel it with `/match cancel` and import it under a new `key`."
        )
    return None
