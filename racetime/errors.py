"""Typed errors of the racetime.gg HTTP client.

Every message is safe to show to a user: it never contains a client secret or a token.
"""

from __future__ import annotations


class RacetimeError(Exception):
    """Base of every error the racetime client raises."""


class RacetimeAuthError(RacetimeError):
    """racetime refused the credentials or the token (401 ``invalid_client`` or 403)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RacetimeGrantError(RacetimeAuthError):
    """racetime refused an authorization grant (400): the code is wrong, used or expired, or
    the refresh token was used or revoked. The person must authorize again; racetime is up.
    ``error`` is the OAuth error code (``invalid_grant``, ``invalid_request``, ...)."""

    def __init__(self, message: str, *, error: str) -> None:
        super().__init__(message, status=400)
        self.error = error


class RacetimeValidationError(RacetimeError):
    """racetime rejected the form (422); ``errors`` is racetime's own ``{field: [msg]}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(self.describe(errors))

    @staticmethod
    def describe(errors: dict[str, list[str]]) -> str:
        parts = []
        for field, messages in errors.items():
            text = " ".join(str(m) for m in messages)
            parts.append(text if field == "__all__" else f"{field}: {text}")
        return "racetime.gg rejected the race settings: " + "; ".join(parts)


class RacetimeNotFoundError(RacetimeError):
    """The category or race does not exist (404)."""


class RacetimeServerError(RacetimeError):
    """racetime.gg answered with a 5xx (or another unexpected status)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class RacetimeConnectionError(RacetimeError):
    """racetime.gg could not be reached, or did not answer in time."""


class RacetimeActionError(RacetimeError):
    """racetime refused a room action; ``errors`` are racetime's own messages."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors) or "racetime refused the action")


class RoomConnectionClosedError(RacetimeError):
    """The room is not connected (finished, stopped, or the socket dropped mid-action)."""
