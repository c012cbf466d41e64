"""A fake racetime.gg server for tests, demos and benchmarks (see racetime-protocol.md).

``FakeRacetimeServer`` runs in-process (``async with FakeRacetimeServer() as fake``) or as
``python -m fake_racetime --port 8765``.
"""

from fake_racetime.clock import FakeClock
from fake_racetime.models import ALL_SCOPES, BotApp, Category, Token, User
from fake_racetime.racer import Racer
from fake_racetime.server import FakeRacetimeServer
from fake_racetime.state import Race, RaceActionError

__all__ = [
    "ALL_SCOPES",
    "BotApp",
    "Category",
    "FakeClock",
    "FakeRacetimeServer",
    "Race",
    "RaceActionError",
    "Racer",
    "Token",
    "User",
]
