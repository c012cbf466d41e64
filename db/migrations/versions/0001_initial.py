"""Initial schema: every table the models in db.models declare.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "async_tournaments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("racetime_category", sa.String(length=64), nullable=False),
        sa.Column("goal", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_tournaments")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_async_tournaments_guild_id_name")),
    )
    op.create_index(
        op.f("ix_async_tournaments_guild_id"), "async_tournaments", ["guild_id"], unique=False
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
    op.create_index(
        op.f("ix_audit_log_actor_user_id"), "audit_log", ["actor_user_id"], unique=False
    )
    op.create_index(op.f("ix_audit_log_created_at"), "audit_log", ["created_at"], unique=False)
    op.create_index(op.f("ix_audit_log_guild_id"), "audit_log", ["guild_id"], unique=False)

    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("organizer_role_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_role_id", sa.BigInteger(), nullable=True),
        sa.Column("announcement_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("results_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("notification_fallback_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("default_timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_settings")),
    )
    op.create_table(
        "racetime_bots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("status_message", sa.String(length=1000), nullable=True),
        sa.Column("last_connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_racetime_bots")),
        sa.UniqueConstraint("category", name=op.f("uq_racetime_bots_category")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discord_id", sa.BigInteger(), nullable=False),
        sa.Column("racetime_id", sa.String(length=32), nullable=True),
        sa.Column("racetime_name", sa.String(length=100), nullable=True),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("discord_id", name=op.f("uq_users_discord_id")),
        sa.UniqueConstraint("racetime_id", name=op.f("uq_users_racetime_id")),
    )
    op.create_table(
        "async_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tournament_id"],
            ["async_tournaments.id"],
            name=op.f("fk_async_participants_tournament_id_async_tournaments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_async_participants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_participants")),
        sa.UniqueConstraint(
            "tournament_id", "user_id", name=op.f("uq_async_participants_tournament_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_async_participants_user_id"), "async_participants", ["user_id"], unique=False
    )

    op.create_table(
        "async_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tournament_id"],
            ["async_tournaments.id"],
            name=op.f("fk_async_pools_tournament_id_async_tournaments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_pools")),
        sa.UniqueConstraint(
            "tournament_id", "name", name=op.f("uq_async_pools_tournament_id_name")
        ),
    )
    op.create_table(
        "notification_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'fallback')",
            name=op.f("ck_notification_log_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_log_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_log")),
        sa.UniqueConstraint(
            "event_id", "user_id", name=op.f("uq_notification_log_event_id_user_id")
        ),
    )
    op.create_index(
        "ix_notification_log_status_next_attempt_at",
        "notification_log",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_notification_log_user_id"), "notification_log", ["user_id"], unique=False
    )
    op.create_index(
        "uq_notification_log_event_id_guild_id_no_user",
        "notification_log",
        ["event_id", "guild_id"],
        unique=True,
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )

    op.create_table(
        "racetime_bot_guilds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["racetime_bots.id"],
            name=op.f("fk_racetime_bot_guilds_bot_id_racetime_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_racetime_bot_guilds")),
        sa.UniqueConstraint(
            "bot_id", "guild_id", name=op.f("uq_racetime_bot_guilds_bot_id_guild_id")
        ),
    )
    op.create_index(
        op.f("ix_racetime_bot_guilds_guild_id"), "racetime_bot_guilds", ["guild_id"], unique=False
    )

    op.create_table(
        "racetime_bot_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("old_status", sa.Integer(), nullable=True),
        sa.Column("new_status", sa.Integer(), nullable=False),
        sa.Column("status_message", sa.String(length=1000), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["racetime_bots.id"],
            name=op.f("fk_racetime_bot_status_history_bot_id_racetime_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_racetime_bot_status_history")),
    )
    op.create_index(
        op.f("ix_racetime_bot_status_history_bot_id"),
        "racetime_bot_status_history",
        ["bot_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_racetime_bot_status_history_changed_at"),
        "racetime_bot_status_history",
        ["changed_at"],
        unique=False,
    )

    op.create_table(
        "tournaments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("racetime_category", sa.String(length=64), nullable=False),
        sa.Column("racetime_goal", sa.String(length=200), nullable=True),
        sa.Column("is_async", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_tournaments_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tournaments")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_tournaments_guild_id_name")),
    )
    op.create_index(op.f("ix_tournaments_guild_id"), "tournaments", ["guild_id"], unique=False)

    op.create_table(
        "async_live_races",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("room_open_minutes_before", sa.Integer(), nullable=False),
        sa.Column("racetime_slug", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("cancelled_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'room_open', 'in_progress', 'finished', 'cancelled')",
            name=op.f("ck_async_live_races_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_async_live_races_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["async_pools.id"],
            name=op.f("fk_async_live_races_pool_id_async_pools"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tournament_id"],
            ["async_tournaments.id"],
            name=op.f("fk_async_live_races_tournament_id_async_tournaments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_live_races")),
    )
    op.create_index(
        "ix_async_live_races_status_scheduled_at",
        "async_live_races",
        ["status", "scheduled_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_async_live_races_tournament_id"),
        "async_live_races",
        ["tournament_id"],
        unique=False,
    )

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("room_open_minutes_before", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'room_open', 'in_progress', 'finished', 'cancelled')",
            name=op.f("ck_matches_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_matches_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tournament_id"],
            ["tournaments.id"],
            name=op.f("fk_matches_tournament_id_tournaments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
    )
    op.create_index(
        "ix_matches_status_scheduled_at", "matches", ["status", "scheduled_at"], unique=False
    )
    op.create_index(op.f("ix_matches_tournament_id"), "matches", ["tournament_id"], unique=False)

    op.create_table(
        "notification_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("tournament_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tournament_id"],
            ["tournaments.id"],
            name=op.f("fk_notification_subscriptions_tournament_id_tournaments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_subscriptions")),
        sa.UniqueConstraint(
            "user_id",
            "event_type",
            "tournament_id",
            name=op.f("uq_notification_subscriptions_user_id_event_type_tournament_id"),
        ),
    )
    op.create_index(
        op.f("ix_notification_subscriptions_tournament_id"),
        "notification_subscriptions",
        ["tournament_id"],
        unique=False,
    )
    op.create_index(
        "uq_notification_subscriptions_user_id_event_type_global",
        "notification_subscriptions",
        ["user_id", "event_type"],
        unique=True,
        sqlite_where=sa.text("tournament_id IS NULL"),
        postgresql_where=sa.text("tournament_id IS NULL"),
    )

    op.create_table(
        "match_players",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.Column("finish_time", sa.Interval(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_match_players_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_match_players_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_players")),
        sa.UniqueConstraint("match_id", "user_id", name=op.f("uq_match_players_match_id_user_id")),
    )
    op.create_index(op.f("ix_match_players_user_id"), "match_players", ["user_id"], unique=False)

    op.create_table(
        "race_rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("live_race_id", sa.Integer(), nullable=True),
        sa.Column("last_status", sa.String(length=32), nullable=True),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("opened_by_us", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_race_data", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_race_id"],
            ["async_live_races.id"],
            name=op.f("fk_race_rooms_live_race_id_async_live_races"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_race_rooms_match_id_matches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_race_rooms")),
        sa.UniqueConstraint("category", "slug", name=op.f("uq_race_rooms_category_slug")),
        sa.UniqueConstraint("live_race_id", name=op.f("uq_race_rooms_live_race_id")),
        sa.UniqueConstraint("match_id", name=op.f("uq_race_rooms_match_id")),
    )
    op.create_index(
        "ix_race_rooms_is_active_category", "race_rooms", ["is_active", "category"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_race_rooms_is_active_category", table_name="race_rooms")

    op.drop_table("race_rooms")
    op.drop_index(op.f("ix_match_players_user_id"), table_name="match_players")

    op.drop_table("match_players")
    op.drop_index(
        "uq_notification_subscriptions_user_id_event_type_global",
        table_name="notification_subscriptions",
        sqlite_where=sa.text("tournament_id IS NULL"),
        postgresql_where=sa.text("tournament_id IS NULL"),
    )
    op.drop_index(
        op.f("ix_notification_subscriptions_tournament_id"), table_name="notification_subscriptions"
    )

    op.drop_table("notification_subscriptions")
    op.drop_index(op.f("ix_matches_tournament_id"), table_name="matches")
    op.drop_index("ix_matches_status_scheduled_at", table_name="matches")

    op.drop_table("matches")
    op.drop_index(op.f("ix_async_live_races_tournament_id"), table_name="async_live_races")
    op.drop_index("ix_async_live_races_status_scheduled_at", table_name="async_live_races")

    op.drop_table("async_live_races")
    op.drop_index(op.f("ix_tournaments_guild_id"), table_name="tournaments")

    op.drop_table("tournaments")
    op.drop_index(
        op.f("ix_racetime_bot_status_history_changed_at"), table_name="racetime_bot_status_history"
    )
    op.drop_index(
        op.f("ix_racetime_bot_status_history_bot_id"), table_name="racetime_bot_status_history"
    )

    op.drop_table("racetime_bot_status_history")
    op.drop_index(op.f("ix_racetime_bot_guilds_guild_id"), table_name="racetime_bot_guilds")

    op.drop_table("racetime_bot_guilds")
    op.drop_index(
        "uq_notification_log_event_id_guild_id_no_user",
        table_name="notification_log",
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )
    op.drop_index(op.f("ix_notification_log_user_id"), table_name="notification_log")
    op.drop_index("ix_notification_log_status_next_attempt_at", table_name="notification_log")

    op.drop_table("notification_log")
    op.drop_table("async_pools")
    op.drop_index(op.f("ix_async_participants_user_id"), table_name="async_participants")

    op.drop_table("async_participants")
    op.drop_table("users")
    op.drop_table("racetime_bots")
    op.drop_table("guild_settings")
    op.drop_index(op.f("ix_audit_log_guild_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_created_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor_user_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_index(op.f("ix_async_tournaments_guild_id"), table_name="async_tournaments")

    op.drop_table("async_tournaments")
