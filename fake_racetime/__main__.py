"""Run the fake racetime server: ``python -m fake_racetime --port 8765 --seed``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from fake_racetime.server import FakeRacetimeServer

logger = logging.getLogger(__name__)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_racetime")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token-lifetime", type=int, default=36000, help="expires_in, seconds")
    parser.add_argument(
        "--adoption-delay",
        type=float,
        default=0.0,
        help="real seconds before the racebot notices everyone ready or the last finish "
        "(racetime.gg: about 3.5-4.5)",
    )
    parser.add_argument("--seed", action="store_true", help="seed a category, a bot and users")
    parser.add_argument("--category", default="alttpr")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--bot-name", default="TestBot")
    parser.add_argument("--users", default="RacerOne,RacerTwo,RacerThree")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    server = FakeRacetimeServer(
        args.host,
        args.port,
        token_lifetime=args.token_lifetime,
        adoption_delay=args.adoption_delay,
    )
    lines = []
    if args.seed:
        server.add_category(args.category, goals=["Beat the game", "Any%"])
        server.seed_bot(args.category, args.client_id, args.client_secret, name=args.bot_name)
        # These are throw-away credentials of a local fake, printed on purpose for demos.
        lines.append(f"category {args.category}: bot {args.bot_name}")
        lines.append(f"client_id={args.client_id} client_secret={args.client_secret}")
        for name in filter(None, args.users.split(",")):
            lines.append(f"user {name}: {server.add_user(name, stream_live=True)}")
    await server.start()
    print(f"fake racetime listening on {server.base_url}", flush=True)
    for line in lines:
        print(line, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(_parse(sys.argv[1:] if argv is None else argv)))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
