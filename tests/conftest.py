"""Project-wide fixtures: the database (tests/plugins/database.py), the Discord harness
(tests/plugins/discord_bot.py) and the slash command driver (tests/plugins/slash.py)."""

pytest_plugins = [
    "tests.plugins.database",
    "tests.plugins.discord_bot",
    "tests.racetime.engine_env",
]
