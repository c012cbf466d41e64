"""A season played by a Hypothesis state machine across two simulated Discord servers (issue
22): the real services as ``bot.py`` wires them, the real database, the fake racetime server
over real sockets and the simulated Discord through the real CommandTree.

``world`` builds and restarts RaceDesk around them, ``model`` is what the machine believes,
``invariants`` what must hold after every step; ``test_season`` is the machine."""
