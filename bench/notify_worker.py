"""``python -m bench.notify_worker``: the delivering process of ``bench.notify``.

Built like the application: ``bot.build_services`` on the bench's database, a
``discord.Client`` logged in (over HTTP only, no gateway) to the fake Discord REST API at
``--api-base``, the real :class:`DiscordNotificationSender` and :class:`NotificationDelivery`.
It delivers until no row is pending, then stops in order. Markers on stdout, one line each:
``READY <t>`` (logged in, delivery started) and ``DONE <t>``; ``<t>`` is ``time.monotonic()``,
comparable across processes. Logs go to ``--log-file``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import discord
from sqlalchemy import func, select
from sqlmodel import col

from bench.room_open_worker import run_logged
from bot import build_services
from cogs._shared.notifications.sender import DiscordNotificationSender
from core.container import Services
from core.events import RetryPolicy
from core.notifications.delivery import DeliveryTimings, NotificationDelivery
from db.models import NotificationLog, NotificationStatus
from db.secrets import SecretBox

POLL_SECONDS = 0.2


def marker(word: str) -> None:
    print(f"{word} {time.monotonic():.6f}", flush=True)


async def pending(services: Services) -> int:
    async with services.sessionmaker() as session:
        result = await session.execute(
            select(func.count()).where(
                col(NotificationLog.status).in_(NotificationStatus.open())
            )
        )
        return int(result.scalar_one())


async def until_nothing_pending(services: Services) -> None:
    while True:
        if not await pending(services):
            return
        await asyncio.sleep(POLL_SECONDS)


def timings_of(args: argparse.Namespace) -> DeliveryTimings:
    return DeliveryTimings(
        retry=RetryPolicy(attempts=args.attempts, base=args.retry_base, cap=60.0),
        lease_seconds=args.lease_seconds,
        batch=args.batch,
        concurrency=args.concurrency,
    )


async def deliver(args: argparse.Namespace) -> None:
    discord.http.Route.BASE = args.api_base
    services = build_services(
        database_url=args.db_url, secret_box=SecretBox(SecretBox.generate_key())
    )
    client = discord.Client(intents=discord.Intents.default())
    try:
        await client.login(args.token)
        delivery = NotificationDelivery(
            services.sessionmaker, services.notifications, DiscordNotificationSender(client),
            clock=services.clock, timings=timings_of(args),
        )
        await delivery.start()
        marker("READY")
        await until_nothing_pending(services)
        await delivery.stop()
    finally:
        await client.close()
        await services.dispose_engines()
    marker("DONE")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    default = DeliveryTimings()
    parser = argparse.ArgumentParser(prog="python -m bench.notify_worker")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--api-base", required=True, help="the fake's http://host:port/api/v10")
    parser.add_argument("--token", default="fake-token")
    parser.add_argument("--batch", type=int, default=default.batch)
    parser.add_argument("--concurrency", type=int, default=default.concurrency)
    parser.add_argument("--lease-seconds", type=float, default=default.lease_seconds)
    parser.add_argument("--attempts", type=int, default=6)
    parser.add_argument("--retry-base", type=float, default=5.0)
    parser.add_argument("--log-file", default=None)
    return parser.parse_args(argv)


def main() -> None:
    run_logged(deliver, parse())


if __name__ == "__main__":
    main()
