"""Run the fake alttpr.com: ``python -m fake_alttpr --port 8766 [--seed N]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from fake_alttpr.server import FakeAlttpr


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_alttpr")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--seed", type=int, default=0, help="the RNG's seed (same seed, same games)"
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeAlttpr(host=args.host, port=args.port, seed=args.seed)
    await fake.start()
    print(f"fake alttpr.com listening on {fake.base_url}", flush=True)
    print(f"point RaceDesk at it: [seeds] alttpr_url = \"{fake.base_url}\"", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(_parse(sys.argv[1:] if argv is None else argv)))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
