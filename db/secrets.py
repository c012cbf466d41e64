"""Encryption at rest for bot client secrets and user OAuth tokens.

Columns named ``*_encrypted`` hold Fernet ciphertext. Services encrypt and decrypt explicitly
with a :class:`SecretBox` they were given; there is no module-level key.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.fernet import Fernet, InvalidToken


@runtime_checkable
class _SecretLike(Protocol):
    """pydantic's ``SecretStr`` and friends, without importing pydantic here."""

    def get_secret_value(self) -> str: ...


class SecretKeyError(ValueError):
    """The configured secret key is not a valid Fernet key. The message never holds the key."""


class SecretDecryptionError(ValueError):
    """Ciphertext could not be decrypted: wrong key or corrupted/tampered data."""


class SecretBox:
    """Encrypts and decrypts short secrets with one Fernet key (authenticated encryption)."""

    __slots__ = ("_fernet", "_setting")

    def __init__(
        self, key: str | bytes | _SecretLike, *, setting: str = "security.secret_key"
    ) -> None:
        """``key`` may be a pydantic ``SecretStr``; ``setting`` is named in error messages."""
        self._setting = setting
        if isinstance(key, _SecretLike):
            key = key.get_secret_value()
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"invalid {setting}: expected a Fernet key (32 bytes, urlsafe base64 encoded); "
                "generate one with SecretBox.generate_key()"
            ) from None

    @staticmethod
    def generate_key() -> str:
        """A new random key, as the text to put in the configuration."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> bytes:
        """Ciphertext for ``plaintext``; a fresh random IV each call."""
        if not isinstance(plaintext, str):
            raise TypeError(f"SecretBox.encrypt expects str, got {type(plaintext).__name__}")
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        """The plaintext for ``ciphertext``, or :class:`SecretDecryptionError`."""
        if not isinstance(ciphertext, bytes | bytearray | memoryview):
            raise TypeError(f"SecretBox.decrypt expects bytes, got {type(ciphertext).__name__}")
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise SecretDecryptionError(
                f"could not decrypt a stored secret: wrong {self._setting} or corrupted ciphertext"
            ) from None

    def __repr__(self) -> str:
        return f"SecretBox(setting={self._setting!r}, key=<hidden>)"
