"""racetime.gg rooms for matches: opening them exactly once (by the scheduler, by
``/open-room``, through the HTTP API), inviting their players, the room settings and the
launcher and scheduler live races share.

Uses: ``core.access``, ``core.event_store``, ``core.events``, ``core.tournaments``,
``racetime`` (through its ports), ``db``.
"""
