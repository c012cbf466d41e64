"""Project-wide fixtures, one plugin module per concern under tests/plugins/:
the database, the fake racetime server, the racetime engine wired to both, and the Discord
harness that drives slash commands through the real CommandTree; and the report of a test
that hangs (``hang_report``), tested through ``pytester``."""

pytest_plugins = [
    "tests.plugins.moved_clock",
    "tests.plugins.database",
    "tests.plugins.pg_cluster",
    "tests.plugins.faults",
    "tests.plugins.fake_racetime",
    "tests.plugins.racetime_engine",
    "tests.plugins.discord_bot",
    "tests.plugins.racetime_linking",
    "tests.plugins.fake_discord",
    "tests.plugins.rehearsal",
    "tests.plugins.hang_report",
    "pytester",
]
