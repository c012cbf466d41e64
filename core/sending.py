"""What the Discord side's senders promise the services that send through them (notification
delivery, racetime bot alerts): the failures they raise and the message nonce that lets Discord
drop a repeated send."""

from __future__ import annotations

import hashlib

NONCE_LENGTH = 25  # Discord's limit for a message nonce


class DeliveryRefused(Exception):
    """The player cannot get this DM (DMs closed, no server in common): not retried."""


class DeliveryFailed(Exception):
    """The send failed; ``permanent`` ones are not retried, others after ``retry_after``.

    A ``rate_limited`` failure (Discord said slow down, longer than its HTTP client would
    wait) delays the notification without using up one of its attempts.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent
        self.rate_limited = rate_limited


def nonce_for(dedupe_key: str) -> str:
    """A Discord message nonce (at most 25 characters) that is the same for the same key."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:NONCE_LENGTH]
