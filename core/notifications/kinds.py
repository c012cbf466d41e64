"""The kinds of notification a player can get, their codes and their defaults.

The codes are stable (the live-race ones, 415-419, are promised to organizers); the names are
what the database stores. Types a player needs in order to play default to on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NotificationStyle(StrEnum):
    """How a notification looks (the Discord side picks colour and emoji from it)."""

    SCHEDULED = "scheduled"
    ROOM_OPENED = "room_opened"
    STARTED = "started"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class TypeInfo:
    code: int
    label: str
    style: NotificationStyle
    default_on: bool
    why: str  # what the player gets, as the settings view says it


class NotificationType(StrEnum):
    MATCH_SCHEDULED = "MATCH_SCHEDULED"
    MATCH_RESCHEDULED = "MATCH_RESCHEDULED"
    MATCH_ROOM_OPENED = "MATCH_ROOM_OPENED"
    MATCH_CANCELLED = "MATCH_CANCELLED"
    MATCH_RESULT = "MATCH_RESULT"
    LIVE_RACE_SCHEDULED = "LIVE_RACE_SCHEDULED"
    LIVE_RACE_ROOM_OPENED = "LIVE_RACE_ROOM_OPENED"
    LIVE_RACE_STARTED = "LIVE_RACE_STARTED"
    LIVE_RACE_FINISHED = "LIVE_RACE_FINISHED"
    LIVE_RACE_CANCELLED = "LIVE_RACE_CANCELLED"
    MATCH_SEED = "MATCH_SEED"
    MATCH_REMINDER = "MATCH_REMINDER"

    @property
    def info(self) -> TypeInfo:
        return _INFO[self]

    @classmethod
    def parse(cls, text: str) -> NotificationType:
        """A type from its name, its label or its code; ``ValueError`` names the choices."""
        wanted = text.strip().upper().replace(" ", "_").replace("-", "_")
        for member in cls:
            if wanted in (member.value, member.info.label.upper().replace(" ", "_")):
                return member
            if wanted == str(member.info.code):
                return member
        choices = ", ".join(member.info.label for member in cls)
        raise ValueError(f"Unknown notification type `{text}`. Choose one of: {choices}.")


_S = NotificationStyle
_INFO: dict[NotificationType, TypeInfo] = {
    NotificationType.MATCH_SCHEDULED: TypeInfo(
        410, "Match scheduled", _S.SCHEDULED, True, "a match of yours is scheduled"),
    NotificationType.MATCH_RESCHEDULED: TypeInfo(
        411, "Match rescheduled", _S.SCHEDULED, True, "a match of yours moves"),
    NotificationType.MATCH_ROOM_OPENED: TypeInfo(
        412, "Match room opened", _S.ROOM_OPENED, True, "your match's race room opens"),
    NotificationType.MATCH_CANCELLED: TypeInfo(
        413, "Match cancelled", _S.CANCELLED, True, "a match of yours is cancelled"),
    NotificationType.MATCH_RESULT: TypeInfo(
        414, "Match result", _S.FINISHED, True, "your match's result is in"),
    NotificationType.LIVE_RACE_SCHEDULED: TypeInfo(
        415, "Live race scheduled", _S.SCHEDULED, True, "a live race you can join is set"),
    NotificationType.LIVE_RACE_ROOM_OPENED: TypeInfo(
        416, "Live race room opened", _S.ROOM_OPENED, True, "a live race's room opens"),
    NotificationType.LIVE_RACE_STARTED: TypeInfo(
        417, "Live race started", _S.STARTED, False, "a live race you are in starts"),
    NotificationType.LIVE_RACE_FINISHED: TypeInfo(
        418, "Live race finished", _S.FINISHED, True, "a live race you were in finishes"),
    NotificationType.LIVE_RACE_CANCELLED: TypeInfo(
        419, "Live race cancelled", _S.CANCELLED, True, "a live race you could join is off"),
    NotificationType.MATCH_SEED: TypeInfo(
        420, "Match seed", _S.ROOM_OPENED, True, "your match's seed is rolled"),
    NotificationType.MATCH_REMINDER: TypeInfo(
        421, "Match reminder", _S.REMINDER, True, "a match of yours is about to start"),
}
