"""Errors that carry a message meant for the person who asked."""

from __future__ import annotations


class UserFacingError(Exception):
    """A refusal or failure the user can act on; its text is shown to them as is.

    Services raise it (never Discord objects); the command tree turns it into an ephemeral
    reply. The message must say what went wrong and what to do, and never hold a secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(UserFacingError):
    """Something the user named does not exist (or is not theirs to see)."""


class PermissionDeniedError(UserFacingError):
    """The user may not do this; the message says who may."""
