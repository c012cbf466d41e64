"""A fake alttpr.com for the tests and the rehearsal: a developer tool, not installed.

It answers exactly what RaceDesk's ALTTPR seeds (``core/seeds/alttpr.py``, through pyz3r)
ask: ``POST /api/randomizer`` (validated like alttpr.com: a 422 with Laravel's ``errors``),
``GET /hash/{hash}`` (pyz3r's ``retrieve``) and the permalink page ``GET /h/{hash}``, with
deterministic seeds from a seedable RNG. Test hooks: :meth:`FakeAlttpr.fail_next`,
:meth:`FakeAlttpr.delay`, the request log; each also under ``/_test`` for another process.

In a test::

    async with running_fake_alttpr(seed=1) as fake:
        provider = AlttprProvider(fake.base_url)

From a shell: ``python -m fake_alttpr --port 8766``.
"""

from fake_alttpr.server import CODE_OFFSET, FakeAlttpr, running_fake_alttpr

__all__ = ["CODE_OFFSET", "FakeAlttpr", "running_fake_alttpr"]
