"""Every RaceDesk table. Importing this module registers them all on ``SQLModel.metadata``."""

from sqlmodel import SQLModel

from db.models.api_tokens import ApiToken
from db.models.async_tournaments import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPool,
    AsyncPoolRun,
    AsyncPoolSeed,
    AsyncRun,
    AsyncRunStatus,
    AsyncTournament,
)
from db.models.audit import AuditLog
from db.models.base import BotStatus, NotificationStatus, PlayerStatus, RaceStatus
from db.models.bots import (
    RacetimeAlert,
    RacetimeBot,
    RacetimeBotGuild,
    RacetimeBotStatusHistory,
    RacetimeIncident,
)
from db.models.calendars import CalendarFeed, CalendarFeedKind, CalendarMatchRevision
from db.models.discord_events import DiscordEventPhase, MatchDiscordEvent
from db.models.events import EventLogEntry, ListenerReceipt, ParkedDelivery
from db.models.guilds import GuildSettings
from db.models.leadership import LEASE_ROW_ID, LeadershipLease
from db.models.links import LinkState
from db.models.match_rooms import ClaimState, MatchRoomClaim
from db.models.notifications import NotificationLog, NotificationSubscription
from db.models.proposals import MatchProposal, ProposalState
from db.models.room_commands import FpaCall, RoomBreaks, RoomSeed
from db.models.rooms import RaceRoom
from db.models.tournaments import Match, MatchPlayer, Tournament
from db.models.users import User

metadata = SQLModel.metadata

__all__ = [
    "LEASE_ROW_ID",
    "ApiToken",
    "AsyncLiveRace",
    "AsyncParticipant",
    "AsyncPool",
    "AsyncPoolRun",
    "AsyncPoolSeed",
    "AsyncRun",
    "AsyncRunStatus",
    "AsyncTournament",
    "AuditLog",
    "BotStatus",
    "CalendarFeed",
    "CalendarFeedKind",
    "CalendarMatchRevision",
    "ClaimState",
    "DiscordEventPhase",
    "EventLogEntry",
    "FpaCall",
    "GuildSettings",
    "LeadershipLease",
    "LinkState",
    "ListenerReceipt",
    "Match",
    "MatchDiscordEvent",
    "MatchPlayer",
    "MatchProposal",
    "MatchRoomClaim",
    "NotificationLog",
    "NotificationStatus",
    "NotificationSubscription",
    "ParkedDelivery",
    "PlayerStatus",
    "ProposalState",
    "RaceRoom",
    "RaceStatus",
    "RacetimeAlert",
    "RacetimeBot",
    "RacetimeBotGuild",
    "RacetimeBotStatusHistory",
    "RacetimeIncident",
    "RoomBreaks",
    "RoomSeed",
    "Tournament",
    "User",
    "metadata",
]
