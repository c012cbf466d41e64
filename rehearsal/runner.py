"""``python bot.py --demo``: RaceDesk's whole job, offline, as a timeline on stdout.

Everything is real but Discord and racetime.gg themselves: a fresh SQLite database in a
temporary folder, the project's fake racetime server on a free loopback port (the real
racetime client, category bot and room connections talk to it over HTTP and websockets), and
a Discord server simulated by dpytest's backend in which the real cogs run and slash commands
go through the real CommandTree. The scenes (``rehearsal.scenes``) play one after another;
the first step that does not happen stops the rehearsal with a non-zero exit and says what it
saw instead.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
import tempfile
import traceback
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import AnyHttpUrl

from cogs._shared.notifications.sender import DiscordNotificationSender
from cogs._shared.racetime_bots.alert_sender import DiscordAlertSender
from core.access import Actor
from core.accounts.linking import CALLBACK_PATH, LinkSettings
from core.config import RacetimeSettings, SeedServiceSettings, WebSettings
from core.container import Services
from core.lifecycle import Lifecycle
from core.notifications.delivery import DeliveryTimings, NotificationDelivery
from db.migrate import upgrade_to_head
from db.secrets import SecretBox
from fake_alttpr import FakeAlttpr
from fake_racetime import FakeRacetimeServer
from racetime.category_bot import BotTimings
from rehearsal.guild import SimulatedGuild, member_intents
from rehearsal.racetime_api import FakeRacetimeApi
from rehearsal.scenes import SCENES
from rehearsal.stage import Cast, Stage, StepFailed
from rehearsal.timeline import Timeline, full_time

log = logging.getLogger(__name__)

PACE_SECONDS = 1.2  # between actions, so that a person can follow
RACERS = ("RacerOne", "RacerTwo", "RacerThree")
# A newcomer whose racetime.gg account has no Twitch connected (see scenes/not_let_in.py).
NEWCOMER = "RacerFour"
GUILD = "RaceDesk Rehearsal"
CHANNEL = "race-control"
OWNER, ADMIN = "Ada", "Grace"


# The fake racetime server's names (room slugs, racers' ids and discriminators) are the same
# on every run, so that a timeline can be compared with another, byte for byte.
NAMES_SEED = 2026


@dataclass(frozen=True, slots=True)
class RehearsalOptions:
    fast: bool = False
    keep_running: bool = False
    data_dir: Path | None = None
    fake_racetime_url: str | None = None  # a fake racetime server that is already running
    start_at: datetime | None = None  # the rehearsal's clock starts here (default: now)


BuildServices = Callable[..., Services]
MakeBot = Callable[..., Any]
# bot.web_server: (services, web settings, "is Discord connected?") -> a web server
MakeWebServer = Callable[[Services, WebSettings, Callable[[], bool]], Any]


async def run_rehearsal(
    options: RehearsalOptions,
    *,
    build_services: BuildServices,
    make_bot: MakeBot,
    make_web_server: MakeWebServer,
    out: TextIO | None = None,
) -> int:
    """Play every scene; 0 when every step happened, 1 otherwise (the step is named)."""
    timeline = Timeline(out)
    folder = _working_folder(options)
    _log_to(folder / "rehearsal.log")
    try:
        ok = await _rehearse(
            options, folder, timeline, build_services, make_bot, make_web_server
        )
    except Exception:
        log.exception("The rehearsal broke")
        timeline.note("\n✗ The rehearsal broke: " + traceback.format_exc().splitlines()[-1])
        ok = False
    finally:
        logging.getLogger().handlers.clear()
    if ok and options.data_dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    elif not ok:
        timeline.note(f"  Its database and log are kept in {folder}")
    return 0 if ok else 1


def _working_folder(options: RehearsalOptions) -> Path:
    if options.data_dir is not None:
        options.data_dir.mkdir(parents=True, exist_ok=True)
        return options.data_dir
    return Path(tempfile.mkdtemp(prefix="racedesk-rehearsal-"))


def _log_to(path: Path) -> None:
    """The application's own log goes to a file: stdout is the timeline."""
    root = logging.getLogger()
    root.handlers.clear()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


async def _rehearse(
    options: RehearsalOptions,
    folder: Path,
    timeline: Timeline,
    build_services: BuildServices,
    make_bot: MakeBot,
    make_web_server: MakeWebServer,
) -> bool:
    async with AsyncExitStack() as stack:
        lifecycle = await stack.enter_async_context(Lifecycle())
        base_url = options.fake_racetime_url
        if base_url is None:
            # racetime's clock moves only when a scene moves it: a race lasts what its script
            # says, however fast the machine plays it.
            fake = FakeRacetimeServer("127.0.0.1", 0, names_seed=NAMES_SEED, clock_held=True)
            await lifecycle.add("fake racetime", fake.start, fake.stop)
            base_url = fake.base_url
        api = await stack.enter_async_context(FakeRacetimeApi(base_url))
        cast = await _cast(api)
        # alttpr.com, where ALTTPR seeds are rolled (through pyz3r): its fake, seeded too.
        alttpr = FakeAlttpr(seed=NAMES_SEED)
        await lifecycle.add("fake alttpr.com", alttpr.start, alttpr.stop)
        timeline.note(_introduction(base_url, alttpr.base_url, folder, options))

        # RaceDesk's web server (the racetime OAuth callback): its address is known up front,
        # since racetime must know where to send people back to.
        web_port = _free_port()
        callback = f"http://127.0.0.1:{web_port}{CALLBACK_PATH}"
        oauth = LinkSettings("racedesk-linking", secrets.token_urlsafe(24), callback)
        await api.register_oauth_app(oauth.client_id, oauth.client_secret, [callback])

        url = f"sqlite+aiosqlite:///{folder / 'racedesk.sqlite3'}"
        await upgrade_to_head(url)
        services = build_services(
            database_url=url,
            secret_box=SecretBox(SecretBox.generate_key()),
            racetime=RacetimeSettings(host=base_url.split("://", 1)[-1], scheme="http"),
            # Rooms opened on racetime are found within a second, not the usual 8.
            bot_timings=BotTimings(scan_interval=1.0),
            linking=oauth,
            seeds=SeedServiceSettings(alttpr_url=AnyHttpUrl(alttpr.base_url)),
        )
        await services.start(lifecycle)
        bot = make_bot(services, intents=member_intents())
        server = make_web_server(services, WebSettings(bind_port=web_port), lambda: True)
        await lifecycle.add("web server", server.start, server.stop)
        guild = SimulatedGuild(bot, guild=GUILD, channels=[CHANNEL],
                               members=[OWNER, ADMIN, *RACERS, NEWCOMER])
        await lifecycle.add("simulated Discord server", guild.start, guild.close)
        # As in production (bot.notification_delivery), sending through the Discord client;
        # the short sweep bounds the wait should the loop miss a wake-up.
        delivery = NotificationDelivery(
            services.sessionmaker, services.notifications, DiscordNotificationSender(bot),
            clock=services.clock, timings=DeliveryTimings(sweep_seconds=1.0),
            metrics=services.metrics,
        )
        await lifecycle.add("notification delivery", delivery.start, delivery.stop)
        # racetime bot alerts, as in production (bot.start_bot_alerts).
        await lifecycle.add(
            "racetime alerts",
            lambda: services.bot_alerts.start(
                DiscordAlertSender(bot), lambda: services.access.owner_ids, sweep_seconds=1.0
            ),
            services.bot_alerts.stop,
        )
        guild.make_owner(guild.member(OWNER))
        await guild.grant(guild.member(ADMIN), manage_guild=True)
        timeline.lookup = guild.name_of

        stage = Stage(guild=guild, dispatcher=services.dispatcher, racetime=api,
                      timeline=timeline, cast=cast, pace=0.0 if options.fast else PACE_SECONDS,
                      services=services, web_url=f"http://127.0.0.1:{web_port}")
        for number, scene in enumerate(SCENES, start=1):
            timeline.heading(f"Scene {number}: {scene.title}")
            try:
                await scene.play(stage)
            except StepFailed as failure:
                stage.close()
                timeline.note(
                    f"\n✗ The rehearsal stopped at the step \"{failure.step}\".\n"
                    f"  Expected: {failure.expected}\n  Saw: {failure.seen}"
                )
                return False
        timeline.note(f"\n✓ All {len(SCENES)} scenes played; every step happened.")
        if not options.keep_running:
            stage.close()
        else:
            await api.hold_clock(False)  # from now on racetime's time runs by itself
            token = await _api_token_for_you(services, guild)
            timeline.note(_poke_instructions(base_url, stage.web_url, cast, token))
            lifecycle.handle_signals()
            await lifecycle.wait_for_stop()
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _cast(api: FakeRacetimeApi) -> Cast:
    """racetime's side of the cast: the category bot's credentials and three racers."""
    cast = Cast(
        owner=OWNER, admin=ADMIN, client_id="racedesk-rehearsal",
        # Made up here and now; the fake racetime server is the only one that knows it.
        client_secret=secrets.token_urlsafe(24),
    )
    await api.add_bot(cast.category, cast.client_id, cast.client_secret)
    for name in RACERS:
        cast.racers[name] = await api.add_user(name)
    return cast


def _introduction(
    base_url: str, alttpr_url: str, folder: Path, options: RehearsalOptions
) -> str:
    pace = "as fast as it can" if options.fast else "at a pace you can follow"
    when = f", as if it were {full_time(options.start_at)}" if options.start_at else ""
    return (
        "RaceDesk rehearsal: the whole job, offline, "
        f"{pace}{when}.\n"
        f"  racetime.gg is the project's fake server at {base_url};\n"
        f"  alttpr.com (seeds) is the project's fake at {alttpr_url}; Discord is a simulated\n"
        f"  server \"{GUILD}\" (#{CHANNEL}) where {OWNER} owns the bot, {ADMIN} is an admin,\n"
        f"  and {', '.join(RACERS)} race ({NEWCOMER} joins later). RaceDesk's own log:\n"
        f"  {folder / 'rehearsal.log'}"
    )


async def _api_token_for_you(services: Services, guild: SimulatedGuild) -> str:
    """An API token of the rehearsal's server, made for whoever keeps it running: the
    simulated Discord takes no typing, so ``/api-token create`` is not at hand."""
    admin = Actor.server_admin(guild.member(ADMIN).id, guild.guild.id)
    created = await services.api_tokens.create(guild.guild.id, "keep-running", actor=admin)
    return created.plaintext


def _poke_instructions(base_url: str, web_url: str, cast: Cast, token: str) -> str:
    racer, racer_id = next(iter(cast.racers.items()))
    racers = ", ".join(f"{name} {user}" for name, user in cast.racers.items())
    return (
        "\nStill running (Ctrl-C to stop). What you can reach from here:\n"
        f"  RaceDesk's web server is at {web_url}\n"
        f"    curl {web_url}/healthz                     its health\n"
        f"    curl {web_url}/metrics                     Prometheus metrics\n"
        f"    curl -H 'Authorization: Bearer {token}' {web_url}/api/matches/4/racetime-room\n"
        "      the HTTP API, with a token made for you (it works only in this rehearsal)\n"
        f"  The fake racetime server is at {base_url}:\n"
        f"    curl {base_url}/alttpr/data                the category and its rooms\n"
        f"    curl -X POST {base_url}/_test/races -d '{{\"category\": \"alttpr\"}}'\n"
        "      open a room (racetime opens rooms that require streaming; the racers here "
        "stream)\n"
        f"    curl -X POST {base_url}/_test/races/<slug>/racers/{racer_id}/join\n"
        f"      {racer} joins it; then ready, done, forfeit, ... (the racers' ids: {racers})\n"
        f"    curl -X POST {base_url}/_test/advance -d '{{\"seconds\": 16}}'\n"
        "      move racetime's clock past a countdown\n"
        "  Every /_test route is listed in fake_racetime/app.py."
    )
