"""The seed service on the real database: setup, rolling (against the fake alttpr.com) and
organizers changing a tournament's seed settings."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor
from core.audit import AuditService
from core.clock import ManualClock
from core.config import SeedServiceSettings
from core.errors import NotFoundError, PermissionDeniedError, UserFacingError
from core.seeds import SeedProviderError, SeedService, SeedSettings, SeedSetup
from core.tournaments.tournaments import TournamentService
from db.models import RacetimeBot, RacetimeBotGuild, Tournament
from fake_alttpr import FakeAlttpr

GUILD, OTHER_GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222
ADA, EVE = 900_000_000_000_000_001, 900_000_000_000_000_005
BY_ADA = Actor.server_admin(ADA, GUILD)  # an organizer (Manage Server)
BY_EVE = Actor.member(EVE, GUILD)  # a member, no more
BY_ADA_THERE = Actor.server_admin(ADA, OTHER_GUILD)
ALL_ALTTPR = ("open", "standard", "inverted", "keysanity")


@pytest.fixture
def audit(db_sessionmaker: async_sessionmaker[AsyncSession]) -> AuditService:
    return AuditService(db_sessionmaker)


@pytest.fixture
def service(
    db_sessionmaker: async_sessionmaker[AsyncSession], audit: AuditService,
    fake_alttpr: FakeAlttpr,
) -> SeedService:
    config = SeedServiceSettings(alttpr_url=fake_alttpr.base_url, timeout_seconds=5)  # type: ignore[arg-type]
    access = AccessPolicy(db_sessionmaker, audit)
    return SeedService(db_sessionmaker, access, audit, config, ManualClock())


async def add_tournament(
    sessionmaker: async_sessionmaker[AsyncSession], name: str = "Winter Cup",
    *, active: bool = True, settings: dict[str, object] | None = None,
) -> int:
    async with sessionmaker.begin() as session:
        tournament = Tournament(
            guild_id=GUILD, name=name, racetime_category="alttpr", is_active=active,
            settings=settings or {"auto_create_rooms": True},
        )
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        return tournament.id


async def stored(sessionmaker: async_sessionmaker[AsyncSession], tournament_id: int) -> dict:
    async with sessionmaker() as session:
        tournament = await session.get(Tournament, tournament_id)
        assert tournament is not None
        return dict(tournament.settings)


# -- setup and rolling -------------------------------------------------------------------------


async def test_a_new_tournament_rolls_no_seeds(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)

    assert await service.setup(tournament_id) is None
    assert await service.setup(tournament_id + 1000) is None
    with pytest.raises(SeedProviderError) as refused:
        await service.roll(tournament_id, None)
    assert "no seeds set up" in refused.value.message
    assert "/tournament seeds" in refused.value.message


async def test_alttpr_seeds_roll_the_default_or_the_preset_asked_for(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    fake_alttpr: FakeAlttpr,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "winter cup", provider="alttpr",
                            default_preset="standard")

    assert await service.setup(tournament_id) == SeedSetup("alttpr", ALL_ALTTPR, "standard")
    default = await service.roll(tournament_id, None)
    asked = await service.roll(tournament_id, " Inverted ")

    assert (default.preset, asked.preset) == ("standard", "inverted")
    assert [call["mode"] for call in fake_alttpr.generate_calls] == ["standard", "inverted"]
    assert all(call["tournament"] is True and call["spoilers"] == "off"
               for call in fake_alttpr.generate_calls)
    assert default.url is not None and default.url.startswith(fake_alttpr.base_url + "/h/")
    assert default.code is not None and default.code.count("/") == 4


async def test_an_unknown_preset_names_the_tournaments_presets(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    fake_alttpr: FakeAlttpr,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr",
                            presets="open, standard")

    with pytest.raises(SeedProviderError) as refused:
        await service.roll(tournament_id, "inverted")  # built in, but not this tournament's

    assert refused.value.message == "Unknown preset 'inverted'. Presets: open, standard."
    assert fake_alttpr.generate_calls == []


async def test_the_spoiler_and_race_settings_reach_alttpr(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    fake_alttpr: FakeAlttpr,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr", spoiler="on",
                            race=False)

    seed = await service.roll(tournament_id, "open")

    [sent] = fake_alttpr.generate_calls
    assert (sent["spoilers"], sent["tournament"]) == ("on", False)
    assert seed.spoiler_url == seed.url


async def test_a_failing_roll_is_the_providers_message(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    fake_alttpr: FakeAlttpr,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr")
    fake_alttpr.fail_next(1, status=422, body={"errors": {"mode": ["The mode is invalid."]}})

    with pytest.raises(SeedProviderError) as refused:
        await service.roll(tournament_id, None)
    assert "refused the settings: mode: The mode is invalid. Nothing" in refused.value.message


async def test_two_rooms_rolling_at_once_get_two_seeds(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    fake_alttpr: FakeAlttpr,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr")
    fake_alttpr.delay(0.05)

    first, second = await asyncio.gather(
        service.roll(tournament_id, None), service.roll(tournament_id, None)
    )

    assert first.url != second.url
    assert len(fake_alttpr.generate_calls) == 2


async def test_preset_names_are_checked(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_tournament(db_sessionmaker)
    with pytest.raises(UserFacingError) as refused:
        await service.configure(BY_ADA, GUILD, "Winter Cup", provider="template",
                                presets="any%", template="{seed}")
    assert "`any%` is not a preset name" in refused.value.message


async def test_template_seeds_render_the_preset_asked_for(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(
        BY_ADA, GUILD, "Winter Cup", provider="template", presets="any, hundred",
        template="https://example.org/s?p={preset}&n={seed}",
    )

    assert await service.setup(tournament_id) == SeedSetup("template", ("any", "hundred"), "any")
    seed = await service.roll(tournament_id, "hundred")
    assert seed.url is not None and seed.url.startswith("https://example.org/s?p=hundred&n=")
    assert seed.text == seed.url


async def test_a_template_tournament_defaults_to_one_preset(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="template",
                            template="Seed {seed}")
    assert await service.setup(tournament_id) == SeedSetup("template", ("default",), "default")
    assert (await service.roll(tournament_id, None)).text.startswith("Seed ")
    assert (await service.roll(tournament_id, "  ")).preset == "default"  # "!seed " alone


# -- configuring -------------------------------------------------------------------------------


async def test_a_change_is_stored_beside_the_other_settings_and_audited(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    audit: AuditService,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)

    change = await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr",
                                     presets="open standard", race=False)

    assert change.tournament_name == "Winter Cup"
    assert change.old == SeedSettings()
    assert change.changed == {
        "provider": (None, "alttpr"),
        "presets": ((), ("open", "standard")),
        "race": (True, False),
    }
    settings = await stored(db_sessionmaker, tournament_id)
    assert settings["auto_create_rooms"] is True  # the tournament's other settings stay
    assert settings["seeds"] == {
        "provider": "alttpr", "presets": ["open", "standard"], "default_preset": None,
        "template": None, "spoiler": "off", "race": False,
    }
    [entry] = await audit.entries("tournament.seeds")
    assert entry.guild_id == GUILD
    assert entry.details == {
        "tournament_id": tournament_id, "name": "Winter Cup",
        "changed": {"provider": [None, "alttpr"], "presets": [[], ["open", "standard"]],
                    "race": [True, False]},
    }


async def test_nothing_different_changes_nothing(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    audit: AuditService,
) -> None:
    await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr")

    change = await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr")

    assert change.changed == {}
    assert len(await audit.entries("tournament.seeds")) == 1


async def test_a_member_may_not_change_or_see_the_seed_settings(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    audit: AuditService,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)

    for actor in (BY_EVE, BY_ADA_THERE, Actor.unknown(), Actor.system()):
        with pytest.raises(PermissionDeniedError) as refused:
            await service.configure(actor, GUILD, "Winter Cup", provider="alttpr")
        assert refused.value.message.startswith("Only organizers can do this")
        with pytest.raises(PermissionDeniedError):
            await service.view(actor, GUILD, "Winter Cup")

    assert "seeds" not in await stored(db_sessionmaker, tournament_id)
    assert await audit.entries("tournament.seeds") == []


async def test_the_settings_are_shown_to_organizers(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tournament_id = await add_tournament(db_sessionmaker, "Winter Cup", active=False,
                                         settings={"seeds": {"provider": "alttpr"}})

    shown = await service.view(BY_ADA, GUILD, "WINTER CUP")

    assert (shown.tournament_id, shown.tournament_name) == (tournament_id, "Winter Cup")
    assert shown.settings == SeedSettings(provider="alttpr", presets=ALL_ALTTPR)


async def test_an_archived_or_missing_tournament_is_not_changed(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_tournament(db_sessionmaker, "Old Cup", active=False)

    with pytest.raises(UserFacingError) as archived:
        await service.configure(BY_ADA, GUILD, "Old Cup", provider="alttpr")
    assert "is archived" in archived.value.message
    with pytest.raises(NotFoundError) as missing:
        await service.configure(BY_ADA, GUILD, "Nope Cup", provider="alttpr")
    assert "There is no tournament called `Nope Cup`" in missing.value.message


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"provider": "alttpr", "presets": "open doors"},
         "RaceDesk has no ALTTPR preset `doors`. Its presets: open, standard, inverted, "
         "keysanity."),
        ({"provider": "alttpr", "default_preset": "doors"},
         "`doors` is not one of the presets (open, standard, inverted, keysanity)"),
        ({"provider": "template"}, "A template provider needs a template"),
        ({"provider": "template", "template": "{room}"}, "unknown placeholder `{room}`"),
        ({"provider": "smz3"}, "`smz3` is not a seed provider: choose alttpr, template or none"),
        ({"provider": "alttpr", "spoiler": "sometimes"},
         "The spoiler setting is one of off, on, generate."),
        ({"provider": "template", "template": "{seed}", "presets": ", ,"},
         "Name at least one preset"),
        ({"provider": "template", "template": "{seed}",
          "presets": " ".join(f"p{n}" for n in range(26))}, "at most 25 seed presets"),
    ],
)
async def test_a_mistake_is_refused_with_what_to_fix(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    changes: dict[str, object], says: str,
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)

    with pytest.raises(UserFacingError) as refused:
        await service.configure(BY_ADA, GUILD, "Winter Cup", **changes)  # type: ignore[arg-type]

    assert says in refused.value.message
    assert "seeds" not in await stored(db_sessionmaker, tournament_id)


async def test_switching_provider_takes_its_presets_and_none_keeps_the_rest(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr",
                            default_preset="inverted")

    to_template = await service.configure(BY_ADA, GUILD, "Winter Cup", provider="template",
                                          template="Seed {seed}")
    assert to_template.new.presets == ("default",)
    assert to_template.new.default_preset is None  # "inverted" is no template preset

    off = await service.configure(BY_ADA, GUILD, "Winter Cup", provider=None)
    assert await service.setup(tournament_id) is None
    assert off.new.template == "Seed {seed}"  # kept for when seeds are turned on again


async def test_tournament_settings_changes_keep_the_seed_settings(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
    audit: AuditService,
) -> None:
    async with db_sessionmaker.begin() as session:
        bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                          client_secret_encrypted=b"sealed")
        session.add(bot)
        await session.flush()
        assert bot.id is not None
        session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=GUILD))
    tournament_id = await add_tournament(db_sessionmaker)
    await service.configure(BY_ADA, GUILD, "Winter Cup", provider="alttpr")
    tournaments = TournamentService(db_sessionmaker, audit,
                                    access=AccessPolicy(db_sessionmaker, audit))

    await tournaments.update_settings(GUILD, "Winter Cup", actor=BY_ADA,
                                      room_open_minutes_before=90)

    assert (await service.setup(tournament_id)) == SeedSetup("alttpr", ALL_ALTTPR, "open")


async def test_damaged_stored_settings_read_as_no_seeds(
    service: SeedService, db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    broken = await add_tournament(db_sessionmaker, "Broken", settings={"seeds": "alttpr"})
    odd = await add_tournament(db_sessionmaker, "Odd", settings={
        "seeds": {"provider": "smz3", "presets": "open"}})
    assert await service.setup(broken) is None
    assert await service.setup(odd) is None
