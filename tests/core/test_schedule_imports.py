"""Importing a schedule (core.tournaments.imports) on the real database: good, bad, repeated
and conflicting lines, each planned and explained; importing again changes nothing; an
updated file updates the matches it made; the plan is checked again before it is applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.access import Actor
from core.errors import NotFoundError, PermissionDeniedError, UserFacingError
from core.events import MatchRescheduledEvent, MatchScheduledEvent
from core.tournaments.imports import (
    MAX_BYTES,
    MAX_LINES,
    ImportPlan,
    Outcome,
    PlanChangedError,
    ScheduleImports,
    import_key,
    read_csv,
)
from db.models import AuditLog, Match
from tests.core.test_matches import ADA, BOB, BY_BOSS, CY, GUILD, NOW, Setup
from tests.core.test_matches import setup as setup

DAN = 900_000_000_000_000_014
MEMBERS = {ADA: "Ada", BOB: "Bob", CY: "Cy", DAN: "Dan"}


class Members:
    """The server's members as the Discord side would name them."""

    async def named(self, name: str) -> list[tuple[int, str]]:
        return [(i, n) for i, n in MEMBERS.items() if n.casefold() == name.casefold()]

    async def display_name(self, discord_id: int) -> str | None:
        return MEMBERS.get(discord_id)


GOOD = (
    "round,players,when,title\n"
    f"Round 1,Ada;Bob,2026-12-19 19:00 Europe/Berlin,Opening match\n"
    f"Round 1,{CY}|<@{DAN}>,2026-12-19T20:00+01:00,\n"
)


@pytest.fixture
def imports(setup: Setup) -> ScheduleImports:
    return ScheduleImports(
        setup.sessionmaker, setup.matches, setup.tournaments, access=setup.access
    )


async def plan(imports: ScheduleImports, text: str, **options: object) -> ImportPlan:
    return await imports.plan(
        GUILD, read_csv(text.encode()), actor=BY_BOSS, tournament="Winter Cup",
        members=Members(), **options,  # type: ignore[arg-type]
    )


async def run(imports: ScheduleImports, text: str) -> ImportPlan:
    shown = await plan(imports, text)
    return await imports.apply(
        GUILD, read_csv(text.encode()), shown, actor=BY_BOSS, tournament="Winter Cup",
        members=Members(),
    )


async def matches(setup: Setup) -> list[Match]:
    async with setup.sessionmaker() as session:
        return list((await session.execute(select(Match).order_by(Match.id))).scalars())


def outcomes(result: ImportPlan) -> list[tuple[int, Outcome]]:
    return [(line.line, line.outcome) for line in result.lines]


async def test_a_good_file_creates_its_matches_and_again_changes_nothing(
    setup: Setup, imports: ScheduleImports
) -> None:
    preview = await plan(imports, GOOD)
    assert outcomes(preview) == [(2, Outcome.CREATE), (3, Outcome.CREATE)]
    assert await matches(setup) == []  # a preview writes nothing

    done = await run(imports, GOOD)
    assert outcomes(done) == [(2, Outcome.CREATE), (3, Outcome.CREATE)]
    made = await matches(setup)
    assert [(m.title, m.round, m.scheduled_at) for m in made] == [
        ("Opening match", "Round 1", datetime(2026, 12, 19, 18, 0, tzinfo=UTC)),
        ("Round 1: Cy vs Dan", "Round 1", datetime(2026, 12, 19, 19, 0, tzinfo=UTC)),
    ]
    assert [line.match_id for line in done.lines] == [m.id for m in made]
    assert sum(isinstance(e, MatchScheduledEvent) for e in setup.events) == 2

    again = await run(imports, GOOD)
    assert outcomes(again) == [(2, Outcome.UNCHANGED), (3, Outcome.UNCHANGED)]
    assert len(await matches(setup)) == 2
    assert sum(isinstance(e, MatchScheduledEvent) for e in setup.events) == 2


async def test_an_updated_file_updates_the_matches_it_made(
    setup: Setup, imports: ScheduleImports
) -> None:
    await run(imports, GOOD)
    before = len(setup.events)
    updated = GOOD.replace("19:00 Europe/Berlin", "21:00 Europe/Berlin").replace(
        "Opening match", "The opener"
    )
    preview = await plan(imports, updated)
    assert outcomes(preview) == [(2, Outcome.UPDATE), (3, Outcome.UNCHANGED)]
    assert "time" in (preview.lines[0].why or "") and "The opener" in (preview.lines[0].why or "")
    await imports.apply(
        GUILD, read_csv(updated.encode()), preview, actor=BY_BOSS, tournament="Winter Cup",
        members=Members(),
    )
    first = (await matches(setup))[0]
    assert (first.title, first.scheduled_at) == (
        "The opener", datetime(2026, 12, 19, 20, 0, tzinfo=UTC)
    )
    moved = [e for e in setup.events[before:] if isinstance(e, MatchRescheduledEvent)]
    assert [e.match_id for e in moved] == [first.id]
    async with setup.sessionmaker() as session:
        actions = (await session.execute(select(AuditLog.action))).scalars().all()
    assert "match.update" in actions


async def test_bad_repeated_and_conflicting_lines_are_refused_one_by_one(
    setup: Setup, imports: ScheduleImports
) -> None:
    await setup.link(DAN, "Dan#0042")
    text = (
        "Round,Players,When,Key\n"
        "Round 1,Ada;Bob,2026-12-19 19:00 UTC,\n"          # 2 good
        "Round 1,Ada;Bob,2026-12-19 19:00 UTC,\n"          # 3 repeats line 2
        "Round 1,Cy;Zed,2026-12-19 19:00 UTC,\n"           # 4 unknown player
        "Round 1,Cy;Dan#0042,2026-12-19 19:00,\n"          # 5 no zone
        "Round 1,Cy;Dan,2020-01-01 19:00 UTC,\n"           # 6 in the past
        ",Cy;Dan,2026-12-19 19:00 UTC,\n"                  # 7 no round
        "Round 1,Cy;Cy,2026-12-19 19:00 UTC,\n"            # 8 twice the same player
        "Round 2,Cy;Dan,2026-12-20 19:00 UTC,final\n"      # 9 and 10: one key, two times
        "Round 2,Cy;Dan,2026-12-21 19:00 UTC,final\n"
        "Round 3,Ada;Cy,2026-12-19 19:00 UTC,\n"           # 11 Ada already plays then
        "Round 3,dan#0042;Bob,2026-12-22 19:00 UTC,\n"     # 12 good (a racetime name)
    )
    result = await plan(imports, text)
    why = {line.line: (line.outcome, line.why or "") for line in result.lines}
    assert why[2][0] is Outcome.CREATE and why[12][0] is Outcome.CREATE
    assert why[3] == (Outcome.SKIPPED, "Repeats line 2.")
    assert why[4][0] is Outcome.REFUSED and "`Zed` is not a Discord id" in why[4][1]
    assert why[5][0] is Outcome.REFUSED and "has no timezone" in why[5][1]
    assert why[6][0] is Outcome.REFUSED and "in the past" in why[6][1]
    assert why[7] == (Outcome.REFUSED, "No round given in `round`.")
    assert why[8][0] is Outcome.REFUSED and "listed twice" in why[8][1]
    assert why[9][0] is why[10][0] is Outcome.REFUSED
    assert "Lines 9, 10 are the same match" in why[9][1]
    assert why[11] == (Outcome.REFUSED, "Ada already plays at this time (line 2).")
    assert result.lines[-1].player_ids == (DAN, BOB)

    done = await imports.apply(
        GUILD, read_csv(text.encode()), result, actor=BY_BOSS, tournament="Winter Cup",
        members=Members(),
    )
    assert done.count(Outcome.CREATE) == 2 and len(await matches(setup)) == 2


async def test_a_match_that_can_no_longer_change_is_refused(
    setup: Setup, imports: ScheduleImports
) -> None:
    done = await run(imports, GOOD)
    await setup.matches.cancel(GUILD, done.lines[0].match_id or 0, "rain", actor=BY_BOSS)
    moved = GOOD.replace("19:00 Europe/Berlin", "21:00 Europe/Berlin")
    result = await plan(imports, moved)
    assert result.lines[0].outcome is Outcome.REFUSED
    assert "is cancelled" in (result.lines[0].why or "")


async def test_a_stale_preview_changes_nothing(setup: Setup, imports: ScheduleImports) -> None:
    await run(imports, GOOD)
    moved = GOOD.replace("19:00 Europe/Berlin", "21:00 Europe/Berlin")
    preview = await plan(imports, moved)
    first = preview.lines[0].match_id or 0
    await setup.matches.reschedule(GUILD, first, NOW + timedelta(days=30), actor=BY_BOSS)
    with pytest.raises(PlanChangedError):
        await imports.apply(
            GUILD, read_csv(moved.encode()), preview, actor=BY_BOSS, tournament="Winter Cup",
            members=Members(),
        )
    assert (await matches(setup))[0].scheduled_at == NOW + timedelta(days=30)


async def test_the_file_is_checked_before_any_line(imports: ScheduleImports) -> None:
    with pytest.raises(UserFacingError, match="no `when` column"):
        read_csv(b"round,players\nR1,Ada;Bob\n")
    with pytest.raises(UserFacingError, match="unknown columns: `colour`"):
        read_csv(b"round,players,when,colour\n")
    with pytest.raises(UserFacingError, match="not UTF-8"):
        read_csv(b"round,players,when\n\xff\xfe")
    with pytest.raises(UserFacingError, match=f"at most {MAX_BYTES // 1024} KB"):
        read_csv(b"x" * (MAX_BYTES + 1))
    many = "round,players,when\n" + "R,Ada;Bob,2026-12-19 19:00 UTC\n" * (MAX_LINES + 1)
    with pytest.raises(UserFacingError, match=f"at most {MAX_LINES}"):
        read_csv(many.encode())
    # Semicolon-separated (a European spreadsheet): players then by "|".
    lines = read_csv("\ufeffRound;Players;When\nR1;Ada|Bob;2026-12-19 19:00 UTC\n".encode())
    assert lines[0].players == ("Ada", "Bob")


async def test_only_organizers_and_the_servers_tokens_import(imports: ScheduleImports) -> None:
    with pytest.raises(PermissionDeniedError):
        await imports.plan(
            GUILD, read_csv(GOOD.encode()), actor=Actor.member(ADA, GUILD),
            tournament="Winter Cup",
        )
    token = Actor.api_token(1, GUILD, created_by=ADA)
    result = await imports.plan(
        GUILD, read_csv(f"round,players,when\nR1,{ADA};{BOB},2026-12-19 19:00 UTC\n".encode()),
        actor=token, tournament="Winter Cup",
    )
    assert result.lines[0].outcome is Outcome.CREATE


def test_a_derived_key_ignores_the_players_order_and_the_rounds_case() -> None:
    line = read_csv(b"round,players,when\nR1,a;b,x\n")[0]
    assert import_key(line, "Round 1", [2, 1]) == import_key(line, "round 1", [1, 2])
    assert import_key(line, "Round 1", [1, 2]) != import_key(line, "Round 2", [1, 2])


async def test_the_tournament_is_checked_once_for_the_whole_file(
    imports: ScheduleImports,
) -> None:
    lines = read_csv(GOOD.encode())
    with pytest.raises(UserFacingError, match="Choose the tournament"):
        await imports.plan(GUILD, lines, actor=BY_BOSS, members=Members())
    with pytest.raises(NotFoundError):
        await imports.plan(GUILD, lines, actor=BY_BOSS, tournament="Spring Cup")
    # A `tournament` column names each line's own; an unknown one refuses that line only.
    named = read_csv(
        b"tournament,round,players,when\n"
        b"Winter Cup,R1,Ada;Bob,2026-12-19 19:00 UTC\n"
        b"Spring Cup,R1,Cy;Dan,2026-12-19 19:00 UTC\n"
    )
    result = await imports.plan(GUILD, named, actor=BY_BOSS, members=Members())
    assert [line.outcome for line in result.lines] == [Outcome.CREATE, Outcome.REFUSED]
