"""Query functions the services use. Each takes a session and never commits."""

from db.queries.audit import add_audit_entry
from db.queries.bots import get_bot, get_bot_by_category, list_active_bots, list_bots_for_guild
from db.queries.rooms import get_room, get_room_for_match, list_active_rooms, upsert_room
from db.queries.users import (
    get_or_create_user_by_discord_id,
    get_user,
    get_user_by_discord_id,
    get_user_by_racetime_id,
    linked_user_ids,
)

__all__ = [
    "add_audit_entry",
    "get_bot",
    "get_bot_by_category",
    "get_or_create_user_by_discord_id",
    "get_room",
    "get_room_for_match",
    "get_user",
    "get_user_by_discord_id",
    "get_user_by_racetime_id",
    "linked_user_ids",
    "list_active_bots",
    "list_active_rooms",
    "list_bots_for_guild",
    "upsert_room",
]
