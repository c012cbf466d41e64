"""Async tournaments (pools, participants) and their live races: scheduled group
races whose rooms open ahead of time, who may enter, and the runs they record.

Uses: ``core.access``, ``core.event_store``, ``core.events``, ``core.rooms``,
``core.tournaments``, ``db``.
"""
