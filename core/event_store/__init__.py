"""The durable event log (events committed before delivery, acknowledged after) and
exactly-once listeners on top of at-least-once delivery (receipts keyed by ``event_id``;
sent-once marks for what goes to Discord).

Uses: ``core.events``, ``db``.
"""
