"""A player's identity around RaceDesk: the racetime.gg account link (OAuth),
profiles, timezones and API tokens.

Uses: ``core.access``, ``core.event_store``, ``core.times``, ``racetime`` (its client), ``db``.
"""
