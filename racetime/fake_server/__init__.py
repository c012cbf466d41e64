"""A fake racetime.gg server for tests, demos and benchmarks (see racetime-protocol.md).

``FakeRacetimeServer`` runs in-process (``async with FakeRacetimeServer() as fake``) or as
``python -m racetime.fake_server --port 8765``.
"""

from racetime.fake_server.clock import FakeClock
from racetime.fake_server.models import ALL_SCOPES, BotApp, Category, Token, User
from racetime.fake_server.racer import Racer
from racetime.fake_server.server import FakeRacetimeServer
from racetime.fake_server.state import Race, RaceActionError

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
