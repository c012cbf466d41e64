"""RaceDesk's command line (``python bot.py …``): parsing, the maintenance commands (database,
keys, the command table) and the rehearsal's entry. What it runs is built by ``bot.py``, the
composition root."""
