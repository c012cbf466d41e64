"""Match lookups and writes. Never commit: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import String, cast, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    ClaimState,
    Match,
    MatchPlayer,
    MatchRoomClaim,
    RaceRoom,
    RaceStatus,
    Tournament,
    User,
)
from db.name_key import name_key

OPEN_STATUSES = (
    RaceStatus.SCHEDULED.value,
    RaceStatus.ROOM_OPEN.value,
    RaceStatus.IN_PROGRESS.value,
)
"""A match in one of these is still to be played (neither finished nor cancelled)."""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def add_match(session: AsyncSession, match: Match, user_ids: Sequence[int]) -> Match:
    """Insert a match and its players (in the given order)."""
    session.add(match)
    await session.flush()
    assert match.id is not None
    session.add_all(MatchPlayer(match_id=match.id, user_id=user_id) for user_id in user_ids)
    await session.flush()
    return match


async def match_in_guild(
    session: AsyncSession, guild_id: int, match_id: int, *, for_update: bool = False
) -> tuple[Match, Tournament] | None:
    """The match ``match_id`` if it belongs to a tournament of ``guild_id``.

    ``for_update`` locks the match row (PostgreSQL) so two changes of one match serialise.
    """
    statement = (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(Match.id == match_id, Tournament.guild_id == guild_id)
    )
    if for_update:
        statement = statement.with_for_update(of=Match)
    row = (await session.execute(statement)).first()
    return (row[0], row[1]) if row is not None else None


async def users_by_discord_id(
    session: AsyncSession, discord_ids: Iterable[int]
) -> dict[int, User]:
    wanted = set(discord_ids)
    if not wanted:
        return {}
    result = await session.execute(select(User).where(col(User.discord_id).in_(wanted)))
    return {user.discord_id: user for user in result.scalars()}


async def players_of(session: AsyncSession, match_id: int) -> list[tuple[MatchPlayer, User]]:
    """The match's players with their users, in the order they were entered."""
    result = await session.execute(
        select(MatchPlayer, User)
        .join(User, col(User.id) == col(MatchPlayer.user_id))
        .where(MatchPlayer.match_id == match_id)
        .order_by(col(MatchPlayer.id))
    )
    return [(player, user) for player, user in result.all()]


async def room_claim(session: AsyncSession, match_id: int) -> MatchRoomClaim | None:
    result = await session.execute(
        select(MatchRoomClaim).where(MatchRoomClaim.match_id == match_id)
    )
    return result.scalar_one_or_none()


async def race_room(session: AsyncSession, match_id: int) -> RaceRoom | None:
    result = await session.execute(select(RaceRoom).where(RaceRoom.match_id == match_id))
    return result.scalar_one_or_none()


async def upcoming_matches(
    session: AsyncSession, guild_id: int, *, tournament_id: int | None = None, limit: int = 25
) -> list[tuple[Match, Tournament]]:
    """The server's matches still to be played, soonest first."""
    statement = (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(Tournament.guild_id == guild_id, col(Match.status).in_(OPEN_STATUSES))
    )
    if tournament_id is not None:
        statement = statement.where(Match.tournament_id == tournament_id)
    result = await session.execute(
        # Matches without a time (their players agree on one) after the timed ones, on
        # either database (SQLite sorts NULL first, PostgreSQL last).
        statement.order_by(
            col(Match.scheduled_at).is_(None), col(Match.scheduled_at), col(Match.id)
        ).limit(limit)
    )
    return [(match, tournament) for match, tournament in result.all()]


async def search_matches(
    session: AsyncSession,
    guild_id: int,
    typed: str,
    *,
    open_only: bool,
    without_room: bool = False,
    active_only: bool = False,
    limit: int = 25,
) -> list[tuple[Match, Tournament]]:
    """The server's matches whose id, title or tournament name contains ``typed``: those
    still to be played soonest first, then (unless ``open_only``) the latest others.
    ``without_room`` leaves out matches that have a room or are getting one (a failed
    opening counts as no room: it may be tried again); ``active_only`` those of archived
    tournaments."""
    statement = (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(Tournament.guild_id == guild_id)
    )
    if active_only:
        statement = statement.where(col(Tournament.is_active).is_(True))
    if without_room:
        has_room = select(RaceRoom.id).where(col(RaceRoom.match_id) == col(Match.id))
        has_claim = select(MatchRoomClaim.id).where(
            col(MatchRoomClaim.match_id) == col(Match.id),
            col(MatchRoomClaim.state) != ClaimState.FAILED.value,
        )
        statement = statement.where(~has_room.exists(), ~has_claim.exists())
    needle = typed.strip().lstrip("#").lower()
    if needle:
        pattern = f"%{_like_escape(needle)}%"
        statement = statement.where(
            or_(
                cast(col(Match.id), String).like(pattern, escape="\\"),
                func.lower(col(Match.title)).like(pattern, escape="\\"),
                col(Tournament.name_key).like(
                    f"%{_like_escape(name_key(typed.strip().lstrip('#')))}%", escape="\\"
                ),
            )
        )
    still_open = col(Match.status).in_(OPEN_STATUSES)
    first = await session.execute(
        statement.where(still_open).order_by(col(Match.scheduled_at), col(Match.id)).limit(limit)
    )
    rows = [(match, tournament) for match, tournament in first.all()]
    if not open_only and len(rows) < limit:
        rest = await session.execute(
            statement.where(~still_open)
            .order_by(col(Match.scheduled_at).desc(), col(Match.id).desc())
            .limit(limit - len(rows))
        )
        rows += [(match, tournament) for match, tournament in rest.all()]
    return rows


async def matches_by_import_key(
    session: AsyncSession, tournament_id: int, keys: Iterable[str]
) -> dict[str, Match]:
    """The tournament's matches made by these import keys (``core.tournaments.imports``)."""
    wanted = set(keys)
    if not wanted:
        return {}
    result = await session.execute(
        select(Match).where(
            Match.tournament_id == tournament_id, col(Match.import_key).in_(wanted)
        )
    )
    return {match.import_key: match for match in result.scalars() if match.import_key}


async def users_by_racetime_name(session: AsyncSession, names: Iterable[str]) -> list[User]:
    """Linked users whose racetime name (``Ada#1234``, or ``Ada`` for any discriminator)
    is one of ``names``, any case."""
    wanted = {name.casefold() for name in names}
    if not wanted:
        return []
    bare = {name.split("#", 1)[0] for name in wanted}
    result = await session.execute(
        select(User).where(
            col(User.racetime_id).is_not(None), col(User.racetime_name).is_not(None),
            or_(
                func.lower(col(User.racetime_name)).in_(wanted),
                *(func.lower(col(User.racetime_name)).like(
                    _like_escape(name) + "#%", escape="\\") for name in bare),
            ),
        )
    )
    return list(result.scalars())
