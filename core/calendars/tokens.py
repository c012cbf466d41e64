"""The secret in a feed's URL: ``cal_`` and 32 random bytes (url-safe base64), looked up by
its SHA-256 like an API token (``core.accounts.api_tokens``)."""

from __future__ import annotations

import secrets

from core.accounts.api_tokens import hash_token

FEED_TOKEN_PREFIX = "cal_"  # noqa: S105 - a prefix that makes a leaked feed URL recognisable
FEED_TOKEN_BYTES = 32
# What a token in a URL may look like before it is worth a database look-up.
FEED_TOKEN_MAX = 100


def new_feed_token() -> str:
    return FEED_TOKEN_PREFIX + secrets.token_urlsafe(FEED_TOKEN_BYTES)


def feed_token_hash(token: str) -> str:
    return hash_token(token)


def plausible(token: str) -> bool:
    """Whether ``token`` could be one RaceDesk made (anything else is no feed, unlooked-up)."""
    body = token.removeprefix(FEED_TOKEN_PREFIX)
    return (
        token.startswith(FEED_TOKEN_PREFIX)
        and len(token) <= FEED_TOKEN_MAX
        and body.isascii()
        and all(c.isalnum() or c in "-_" for c in body)
    )
