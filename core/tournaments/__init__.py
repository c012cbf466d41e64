"""Tournaments and their matches: settings, scheduling, results, the match information
shown to players and the posts in a server's channels.

Uses: ``core.access``, ``core.event_store``, ``core.events``, ``core.times``, ``core.rooms``
(a match's room readiness), ``db``.
"""
