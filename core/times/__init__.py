"""Times as people write and read them: parsing what a user types (in their
timezone), suggestions for it, and the wording RaceDesk shows.

Uses: the standard library and ``core.clock``.
"""
