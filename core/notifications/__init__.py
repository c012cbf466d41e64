"""What players are told by DM: the kinds of notification, preferences, the outbox
(rows queued once per event and player) and its delivery with retries and fallback; the
reminders before a match (``reminders``).

Uses: ``core.access``, ``core.event_store``, ``core.events``, ``db``; the reminders also
``core.rooms.scheduler`` (planning and sweeping) and ``core.tournaments`` (their minutes);
sending goes through a port the Discord layer implements.
"""
