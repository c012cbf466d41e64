"""The last check before a request leaves for Discord: a process that no longer leads sends
nothing, not even a request that was waiting when it stopped leading.

The senders ask the fence before they send (``core.leadership``), but a request may then wait
a long time inside discord.py's HTTP client (a rate-limit bucket, a 429's ``retry_after``, the
global limit) or the senders' :class:`~cogs._shared.pacer.Pacer`. A leader paused (SIGSTOP)
or cut off during that wait would send it once it resumes, after the new leader sent it too.

discord.py hands ``http_trace`` (an :class:`aiohttp.TraceConfig`) to the aiohttp session of
its HTTP client, which carries every REST request, interaction answers included. aiohttp
awaits ``on_request_start`` before it takes a connection and lets what it raises through
unchanged; discord.py's ``HTTPClient.request`` retries only an ``OSError``. So a
:class:`~core.leadership.FencedError` raised there reaches the sender before a byte left, on
each try of a request (a retry after a 429 is checked again).

Only requests that cause an effect are checked; reads and the gateway (a ``GET`` upgraded to
a websocket) are left alone. A process that runs alone (:data:`~core.leadership.NO_FENCE`)
installs no trace at all.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from core.leadership import NO_FENCE, Fence

# What creates, edits or deletes something on Discord.
EFFECT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def fenced_http_trace(fence: Fence) -> aiohttp.TraceConfig | None:
    """The trace for ``discord.Client(http_trace=...)`` that asks ``fence`` before each
    request that causes an effect; None for :data:`NO_FENCE` (nothing to check)."""
    if fence is NO_FENCE:
        return None

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if params.method.upper() in EFFECT_METHODS:
            fence.ensure_current()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace
