"""``bot.py rotate-key``: re-encrypt every stored secret with the current key."""

from __future__ import annotations

import sys
from pathlib import Path

from core.config import load_maintenance_settings
from core.startup_errors import database_step
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.models import metadata
from db.secrets import SecretBox, reencrypt_stored_secrets


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


async def rotate_key(config_path: Path) -> int:
    """Re-encrypt every stored secret with the current key, in one transaction."""
    settings = load_maintenance_settings(config_path)
    box = SecretBox(settings.security.secret_key, old_keys=settings.security.old_secret_keys)
    with database_step(settings.database.url, config_path):
        await upgrade_to_head(settings.database.url)
    engine = create_engine(settings.database.url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            report = await reencrypt_stored_secrets(session, box, metadata)
    finally:
        await engine.dispose()
    print(
        f"Re-encrypted {plural(report.rows_rewritten, 'row')} "
        "with the current [security] secret_key."
    )
    if not report.undecryptable:
        print("Every stored secret is readable: old_secret_keys can be removed now.")
        return 0
    print(
        f"Could not decrypt {plural(len(report.undecryptable), 'stored secret')} "
        "(left unchanged):",
        file=sys.stderr,
    )
    for secret in report.undecryptable:
        print(f"  {secret}", file=sys.stderr)
    print(
        "Add the key they were encrypted with to [security] old_secret_keys and run rotate-key "
        "again; a racetime bot can also be given its credentials again with /racetime bot edit.",
        file=sys.stderr,
    )
    return 1
