"""ALTTPR seeds from alttpr.com (or a server speaking its API), through pyz3r.

pyz3r's ``ALTTPR`` gives the permalink and the file-select code of a generated game. Its own
``generate_game`` (6.1) retries every failure five times at once, a refusal of the settings
(4xx) included, and drops the server's answer, so a racer could never learn why; here that
one method is replaced: a refusal is reported with alttpr.com's own words and not retried, a
server error or a dropped connection is retried after a pause, and the whole roll is bounded
by a timeout.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pyz3r.alttpr import ALTTPR

from core.clock import Clock, SystemClock
from core.seeds.alttpr_presets import ALTTPR_PRESETS
from core.seeds.base import RolledSeed, SeedProviderError
from core.seeds.text import one_line, unknown_preset
from core.version import racedesk_version

log = logging.getLogger(__name__)

ENDPOINT = "/api/randomizer"
DEFAULT_TIMEOUT_SECONDS = 20.0
# Pauses before the second and third try after a server error or a dropped connection.
RETRY_PAUSES_SECONDS = (1.0, 2.0)
_HASH = re.compile(r"[A-Za-z0-9]{1,40}")
_ERROR_BODY_MAX = 64 * 1024  # bytes of an error answer read, at most
_REASON_MAX = 300

Generator = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]


class _Game(ALTTPR):  # type: ignore[misc]  # pyz3r ships no type hints: ALTTPR is Any
    """pyz3r's game whose generation is ``generator`` (see the module's docstring)."""

    def __init__(self, *, baseurl: str, generator: Generator) -> None:
        super().__init__(baseurl=baseurl)
        self._generator = generator

    async def generate_game(self, settings: dict[str, Any], endpoint: str) -> dict[str, Any]:
        self.settings = settings
        self.data = await self._generator(settings, endpoint)
        return self.data


class AlttprProvider:
    """Rolls the built-in ALTTPR presets (``core.seeds.alttpr_presets``).

    ``spoiler`` is alttpr.com's ``spoilers`` setting: ``off`` (no spoiler log), ``on`` (the
    seed's page offers it) or ``generate`` (made, not shown); ``race`` is its ``tournament``
    setting, which hides the spoiler log and the settings from the seed's page.
    Cheap to build; one roll does not wait for another.
    """

    def __init__(
        self,
        base_url: str = "https://alttpr.com",
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        spoiler: str = "off",
        race: bool = True,
        clock: Clock | None = None,
        retry_pauses: Sequence[float] = RETRY_PAUSES_SECONDS,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._site = urlsplit(self._base_url).netloc or self._base_url
        self._timeout = timeout_seconds
        self._spoiler = spoiler
        self._race = race
        self._clock = clock or SystemClock()
        self._retry_pauses = tuple(retry_pauses)

    def settings_for(self, preset: str) -> dict[str, Any]:
        """What is sent to alttpr.com for ``preset``: its settings with this provider's
        spoiler and race choices."""
        known = ALTTPR_PRESETS.get(preset)
        if known is None:
            raise SeedProviderError(unknown_preset(preset, ALTTPR_PRESETS))
        settings = copy.deepcopy(dict(known.settings))
        settings["spoilers"] = self._spoiler
        settings["tournament"] = self._race
        return settings

    async def roll(self, preset: str) -> RolledSeed:
        settings = self.settings_for(preset)
        try:
            async with asyncio.timeout(self._timeout):
                async with aiohttp.ClientSession(
                    headers={"User-Agent": f"RaceDesk/{racedesk_version()}"}
                ) as session:
                    try:
                        game = await _Game.generate(
                            settings, ENDPOINT, baseurl=self._base_url,
                            generator=lambda body, endpoint: self._post(session, body, endpoint),
                        )
                    except (KeyError, TypeError):  # pyz3r reads the answer's "hash"
                        game = None
                    return self._rolled(preset, game)
        except TimeoutError:
            log.warning("ALTTPR roll of %s: no answer from %s in %gs", preset, self._site,
                        self._timeout)
            raise SeedProviderError(
                f"The seed service did not answer in {self._timeout:g} s; nothing was rolled. "
                "Try !seed again."
            ) from None

    def _rolled(self, preset: str, game: Any) -> RolledSeed:
        try:
            hash_id = game.hash
            code = "/".join(str(item) for item in game.code)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            hash_id, code = None, ""
        if not isinstance(hash_id, str) or not _HASH.fullmatch(hash_id) or not code:
            log.warning("ALTTPR roll of %s: %s answered without a readable seed", preset,
                        self._site)
            raise SeedProviderError(
                f"{self._site} answered with something RaceDesk could not read; nothing was "
                "rolled. Try !seed again later."
            )
        url = str(game.url)
        log.info("Rolled ALTTPR %s: %s", preset, url)
        spoiler_url = url if self._spoiler == "on" and not self._race else None
        return RolledSeed(
            preset=preset, url=url, text=f"{url} (code: {code})", code=code,
            spoiler_url=spoiler_url,
        )

    async def _post(
        self, session: aiohttp.ClientSession, settings: dict[str, Any], endpoint: str
    ) -> dict[str, Any]:
        """alttpr.com's answer to the settings; retries what may pass on a second try."""
        url = f"{self._base_url}{endpoint}"
        pauses: list[float | None] = [*self._retry_pauses, None]
        problem = "no answer"
        for pause in pauses:
            try:
                async with session.post(url, json=settings) as response:
                    if response.status < 400:
                        data = await response.json(content_type=None)
                        if isinstance(data, dict):
                            return data
                        problem = "an answer that is not a seed"
                    elif response.status < 500 and response.status not in (408, 429):
                        body = await response.content.read(_ERROR_BODY_MAX)
                        reason = _reason(body).rstrip(".") or f"HTTP {response.status}"
                        log.warning("ALTTPR roll refused by %s: HTTP %d %s", self._site,
                                    response.status, reason)
                        raise SeedProviderError(
                            f"{self._site} refused the settings: {reason}. Nothing was "
                            "rolled; organizers can check the preset with /tournament seeds."
                        )
                    else:
                        problem = f"HTTP {response.status}"
            except aiohttp.ClientError as error:
                problem = "the connection failed"
                log.warning("ALTTPR roll: %s: %s", self._site, type(error).__name__)
            except ValueError:  # not JSON
                problem = "an answer that is not a seed"
            log.warning("ALTTPR roll: %s gave %s", self._site, problem)
            if pause is None:
                break
            await self._clock.sleep(pause)
        raise SeedProviderError(
            f"{self._site} could not roll a seed ({problem}, {len(pauses)} tries); nothing "
            "was rolled. Try !seed again later."
        )


def _reason(body: bytes) -> str:
    """What a refusal says: alttpr.com's validation errors (``errors``: field -> messages),
    else its ``message``; one bounded line ("" when it says nothing readable)."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        data = None
    parts: list[str] = []
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, dict):
            for field, messages in errors.items():
                listed = messages if isinstance(messages, list) else [messages]
                parts.extend(f"{field}: {message}" for message in listed if message)
        elif isinstance(errors, list):
            parts.extend(str(error) for error in errors if error)
        if not parts and isinstance(data.get("message"), str):
            parts.append(data["message"])
    return one_line("; ".join(parts), _REASON_MAX)
