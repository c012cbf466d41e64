"""What ``/profile calendar`` and ``/tournament calendar`` answer (always ephemeral: the URL
is the feed's only key)."""

from __future__ import annotations

from core.calendars import FeedLink

HOW_TO_SUBSCRIBE = (
    "Subscribe to it in your calendar app (Google Calendar: *Other calendars → From URL*; "
    "Apple Calendar: *File → New Calendar Subscription*; Outlook: *Add calendar → Subscribe "
    "from web*). Calendars fetch it again by themselves, so reschedules, cancellations and "
    "the race room's link show up there."
)


def feed_reply(link: FeedLink, *, what: str, reset_command: str) -> str:
    """``what``: whose matches the feed has, e.g. "every match you play"."""
    if link.revoked:
        head = f"New calendar feed for **{link.name}**; the old address no longer works:"
    elif link.created:
        head = f"Calendar feed for **{link.name}** ({what}):"
    else:
        head = f"Your calendar feed for **{link.name}** ({what}):"
    return (
        f"{head}\n<{link.url}>\n{HOW_TO_SUBSCRIBE}\n"
        f"Keep it private: anyone with it sees these matches. If it leaks, `{reset_command}` "
        "replaces it."
    )
