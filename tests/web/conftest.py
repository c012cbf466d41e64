"""The web tests' scene (``tests.web.scene``) as a fixture; a module that needs another
request limit overrides ``scene``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.web.browser import chromium  # noqa: F401 (the fixture, for the browser tests)
from tests.web.scene import ApiScene, api_scene


@pytest.fixture
async def scene(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[ApiScene]:
    async with api_scene(db_url, secret_box, fake_racetime) as scene:
        yield scene
