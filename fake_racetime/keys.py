"""The application key the fake's route modules share (``request.app[SERVER]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from fake_racetime.server import FakeRacetimeServer

SERVER: web.AppKey[FakeRacetimeServer] = web.AppKey("fake_racetime_server")
