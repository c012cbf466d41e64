"""Seeds: what a tournament's races are played on, rolled on demand (``!seed`` in a room).

Owns: the seed providers (ALTTPR through pyz3r, with built-in presets; a text or URL template
for categories without an API), a tournament's seed settings (kept in its ``settings`` JSON
object under ``"seeds"``) and :class:`SeedService`, which reads them, rolls, and lets
organizers change them (asking the access policy, audited).

Not here: who may roll in a room and how often, and posting the seed (the race-room chat
commands build on :class:`SeedService`).

May use: ``core.access``, ``core.audit``, ``core.clock``, ``core.config``, ``core.errors``,
``db``, pyz3r and aiohttp; never ``discord``.
"""

from core.seeds.base import RolledSeed, SeedProvider, SeedProviderError
from core.seeds.service import SeedChange, SeedService, SeedSetup, TournamentSeeds
from core.seeds.settings import PROVIDERS, SPOILER_MODES, SeedSettings

__all__ = [
    "PROVIDERS",
    "SPOILER_MODES",
    "RolledSeed",
    "SeedChange",
    "SeedProvider",
    "SeedProviderError",
    "SeedService",
    "SeedSettings",
    "SeedSetup",
    "TournamentSeeds",
]
