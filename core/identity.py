"""Who caused something: a linked user, the system, or nobody we know.

Every event and audit row carries a ``user_id`` in this three-state form. ``None`` (unknown)
and ``SYSTEM_USER_ID`` (automation) are different things and must never be confused: an
authorization check that lets automation through must still refuse an unknown actor.
"""

from __future__ import annotations

SYSTEM_USER_ID = -1


def is_system_user_id(user_id: int | None) -> bool:
    """True only for the automation id, never for an unknown (None) actor."""
    return user_id is not None and user_id == SYSTEM_USER_ID


def is_authenticated_user_id(user_id: int | None) -> bool:
    """True for a real, linked application user (a positive id)."""
    return user_id is not None and user_id > 0


def get_user_id_description(user_id: int | None) -> str:
    """A short human description for logs and audit views."""
    if user_id is None:
        return "Unknown/Unauthenticated"
    if is_system_user_id(user_id):
        return "System/Automation"
    return f"User {user_id}"
