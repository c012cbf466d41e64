"""racetime.gg category bots: their credentials, which servers each serves, their
health and status history, alerts to owners, administration, and the rooms' storage for
the racetime engine.

Uses: ``core.access``, ``core.event_store``, ``core.events``, ``core.leadership``, ``racetime``,
``db``.
"""
