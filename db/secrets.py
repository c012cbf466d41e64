"""Encryption at rest for bot client secrets and user OAuth tokens.

Columns named ``*_encrypted`` hold Fernet ciphertext. Services encrypt and decrypt explicitly
with a :class:`SecretBox` they were given; there is no module-level key. A box holds the
current key (which encrypts) and any old keys (which only decrypt), so the key can be rotated:
:func:`reencrypt_stored_secrets` rewrites every ``*_encrypted`` column with the current key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, MetaData, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

ENCRYPTED_SUFFIX = "_encrypted"


@runtime_checkable
class _SecretLike(Protocol):
    """pydantic's ``SecretStr`` and friends, without importing pydantic here."""

    def get_secret_value(self) -> str: ...


class SecretKeyError(ValueError):
    """The configured secret key is not a valid Fernet key. The message never holds the key."""


class SecretDecryptionError(ValueError):
    """Ciphertext could not be decrypted: wrong key or corrupted/tampered data."""


def _fernet(key: str | bytes | _SecretLike, setting: str) -> Fernet:
    """A Fernet for ``key``; a bad key is a :class:`SecretKeyError` naming ``setting`` only."""
    if isinstance(key, _SecretLike):
        key = key.get_secret_value()
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise SecretKeyError(
            f"invalid {setting}: expected a Fernet key (32 bytes, urlsafe base64 encoded); "
            "generate one with `python bot.py generate-key`"
        ) from None


class SecretBox:
    """Encrypts with the current key and decrypts with it or any old key (authenticated)."""

    __slots__ = ("_fernet", "_old_setting", "_setting")

    def __init__(
        self,
        key: str | bytes | _SecretLike,
        *,
        old_keys: Iterable[str | bytes | _SecretLike] = (),
        setting: str = "security.secret_key",
        old_setting: str = "security.old_secret_keys",
    ) -> None:
        """Keys may be pydantic ``SecretStr``s; the setting names appear in error messages."""
        self._setting = setting
        self._old_setting = old_setting
        fernets = [_fernet(key, setting)]
        fernets += [_fernet(old, f"{old_setting}[{i}]") for i, old in enumerate(old_keys)]
        self._fernet = MultiFernet(fernets)

    @staticmethod
    def generate_key() -> str:
        """A new random key, as the text to put in the configuration."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> bytes:
        """Ciphertext for ``plaintext`` under the current key; a fresh random IV each call."""
        if not isinstance(plaintext, str):
            raise TypeError(f"SecretBox.encrypt expects str, got {type(plaintext).__name__}")
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        """The plaintext for ``ciphertext``, or :class:`SecretDecryptionError`."""
        try:
            return self._fernet.decrypt(_as_bytes(ciphertext, "decrypt")).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise self._decryption_error() from None

    def can_decrypt(self, ciphertext: bytes) -> bool:
        """Whether any configured key decrypts ``ciphertext``."""
        try:
            self.decrypt(ciphertext)
        except SecretDecryptionError:
            return False
        return True

    def reencrypt(self, ciphertext: bytes) -> bytes:
        """``ciphertext`` encrypted again under the current key, or SecretDecryptionError."""
        try:
            return self._fernet.rotate(_as_bytes(ciphertext, "reencrypt"))
        except InvalidToken:
            raise self._decryption_error() from None

    def _decryption_error(self) -> SecretDecryptionError:
        return SecretDecryptionError(
            f"could not decrypt a stored secret with {self._setting} or any of "
            f"{self._old_setting}: the key it was encrypted with is not configured, "
            "or the ciphertext is corrupted"
        )

    def __repr__(self) -> str:
        return f"SecretBox(setting={self._setting!r}, key=<hidden>)"


def _as_bytes(ciphertext: Any, method: str) -> bytes:
    if not isinstance(ciphertext, bytes | bytearray | memoryview):
        raise TypeError(f"SecretBox.{method} expects bytes, got {type(ciphertext).__name__}")
    return bytes(ciphertext)


# -- key rotation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """Where one encrypted value lives: table, primary key and column (never the value)."""

    table: str
    row_id: Any
    column: str

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id} ({self.column})"


@dataclass(slots=True)
class RotationReport:
    """What :func:`reencrypt_stored_secrets` did."""

    rows_rewritten: int = 0
    undecryptable: list[StoredSecret] = field(default_factory=list)


def encrypted_columns(metadata: MetaData) -> list[tuple[Table, list[Column[Any]]]]:
    """Every table with ``*_encrypted`` columns, and those columns; tables by name."""
    found = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        columns = [c for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX)]
        if columns:
            found.append((table, columns))
    return found


async def reencrypt_stored_secrets(
    session: AsyncSession, box: SecretBox, metadata: MetaData
) -> RotationReport:
    """Rewrite every ``*_encrypted`` value under the current key, inside the caller's
    transaction. Values no configured key decrypts are left as they are and reported."""
    report = RotationReport()
    for table, columns in encrypted_columns(metadata):
        await _reencrypt_table(session, box, table, columns, report)
    return report


async def _reencrypt_table(
    session: AsyncSession,
    box: SecretBox,
    table: Table,
    columns: list[Column[Any]],
    report: RotationReport,
) -> None:
    [key] = table.primary_key.columns
    rows = await session.execute(select(key, *columns).order_by(key).with_for_update())
    for row in rows.all():
        values = _reencrypted_values(box, table, row, columns, report)
        if values:
            await session.execute(update(table).where(key == row[0]).values(values))
            report.rows_rewritten += 1


def _reencrypted_values(
    box: SecretBox, table: Table, row: Any, columns: list[Column[Any]], report: RotationReport
) -> dict[str, bytes]:
    values = {}
    for column, ciphertext in zip(columns, row[1:], strict=True):
        if ciphertext is None:
            continue
        try:
            values[column.name] = box.reencrypt(ciphertext)
        except SecretDecryptionError:
            report.undecryptable.append(StoredSecret(table.name, row[0], column.name))
    return values
