"""The HTTP front end: an aiohttp application over the same services as the cogs.

Like ``cogs/``, it parses requests, checks who asks and renders answers; the rules live in
``core/``. It never imports ``discord``: what it needs from the Discord client (is
it connected?) is handed in as a callable by the composition root, ``bot.py``.
"""
