"""Discord's limits, in one place: what RaceDesk builds stays within them, and the simulated
Discord of the rehearsal and the tests (``rehearsal.discord_rules``) refuses what breaks them.

The figures are Discord's API documentation's ("Message Resource: Embed Limits", "Receiving
and Responding: Interaction Callback", "Application Commands: Autocomplete", "Components",
"Message Components: Text Input"). Lengths are counted in characters (code points), as
Discord and discord.py count them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.tournaments.discord_events import (  # the match's event is planned in core
    SCHEDULED_EVENT_DESCRIPTION_MAX as SCHEDULED_EVENT_DESCRIPTION_MAX,
)
from core.tournaments.discord_events import (
    SCHEDULED_EVENT_LOCATION_MAX as SCHEDULED_EVENT_LOCATION_MAX,
)
from core.tournaments.discord_events import SCHEDULED_EVENT_NAME_MAX as SCHEDULED_EVENT_NAME_MAX

MESSAGE_CONTENT_MAX = 2000
EMBEDS_PER_MESSAGE_MAX = 10
# The title, description, field names and values, footer text and author name of every embed
# of one message, added up.
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256

AUTOCOMPLETE_CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100  # a string choice's value

ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
BUTTON_LABEL_MAX = 80
CUSTOM_ID_MAX = 100
SELECT_OPTIONS_MAX = 25
MODAL_TITLE_MAX = 45
TEXT_INPUT_LABEL_MAX = 45

# An interaction must be answered (or deferred) this soon after it arrives; its token then
# serves follow-ups and edits for 15 minutes.
RESPONSE_DEADLINE_SECONDS = 3.0
INTERACTION_TOKEN_SECONDS = 15 * 60.0


def embed_text_length(embed: Mapping[str, Any]) -> int:
    """The characters of one embed (as sent to Discord) that count towards
    :data:`EMBED_TOTAL_MAX`; the same sum as discord.py's ``len(Embed)``."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for field in embed.get("fields") or ():
        total += len(field.get("name") or "") + len(field.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total
