"""What players are told by DM: the kinds of notification, preferences, the outbox
(rows queued once per event and player) and its delivery with retries and fallback.

Uses: ``core.access``, ``core.event_store``, ``core.events``, ``db``; sending goes through a
port the Discord layer implements.
"""
