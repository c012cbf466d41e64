"""Typed settings from ``config.toml`` and ``RACEDESK_<SECTION>__<KEY>`` environment variables.

Loaded once in ``bot.main()`` and injected; nothing reads settings at import time. A bad or
missing value becomes a :class:`ConfigError` whose message names the key, the file and what is
expected, and never contains a secret's value.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_origin

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

ENV_PREFIX = "RACEDESK_"
DEFAULT_CONFIG_PATH = Path("config.toml")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/racedesk.sqlite3"


class ConfigError(Exception):
    """Start-up configuration is unusable; the message says which key and what to do."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordSettings(_Section):
    token: SecretStr = Field(description="Bot token from the Discord developer portal")
    owner_ids: list[int] = Field(default_factory=list)
    dev_guild_id: int | None = None
    sync_commands: bool = True
    # Gateway shards: "off" (one connection, enough below ~2,500 servers), "auto" (as many
    # as Discord recommends) or a number. Only the leader connects (see [ha]).
    shards: Literal["off", "auto"] | Annotated[int, Field(ge=1, le=1024)] = "off"

    @field_validator("token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class DatabaseSettings(_Section):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _supported_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class RacetimeSettings(_Section):
    host: str = "racetime.gg"
    scheme: Literal["https", "http"] = "https"
    request_timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("host")
    @classmethod
    def _host_without_scheme(cls, value: str) -> str:
        if "://" in value or "/" in value or not value.strip():
            raise ValueError("must be a host name with an optional port, e.g. racetime.gg")
        return value

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"


class OAuthSettings(_Section):
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scopes: list[str] = Field(default_factory=lambda: ["read"])

    @property
    def configured(self) -> bool:
        return bool(self.client_id.strip() and self.client_secret.get_secret_value().strip())

    @property
    def blank_half(self) -> Literal["client_id", "client_secret"] | None:
        """The blank one of ``client_id`` and ``client_secret`` when the other is set."""
        has_id = bool(self.client_id.strip())
        has_secret = bool(self.client_secret.get_secret_value().strip())
        if has_id == has_secret:
            return None
        return "client_secret" if has_id else "client_id"


class WebSettings(_Section):
    bind_host: str = "127.0.0.1"
    bind_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port
    public_url: AnyHttpUrl = AnyHttpUrl("http://localhost:8080")
    # Calls one API token may make per minute; more are answered 429 with Retry-After.
    api_requests_per_minute: int = Field(default=30, ge=1, le=10_000)
    # GET /metrics (Prometheus) on this server; no token, no secrets, no per-user labels.
    metrics: bool = True
    # A match's nominal length in the calendar feeds (a race has no end time until it ends).
    calendar_event_minutes: int = Field(default=120, ge=15, le=24 * 60)


class SeedServiceSettings(_Section):
    """``[seeds]``: where ALTTPR seeds are rolled and how long a roll may take."""

    # The randomizer's site; tests and the rehearsal point it at the fake (fake_alttpr/).
    alttpr_url: AnyHttpUrl = AnyHttpUrl("https://alttpr.com")
    # Seconds one roll may take, retries included, before the racer is told to try again.
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @property
    def alttpr_base_url(self) -> str:
        """``alttpr_url`` without its trailing slash (pyz3r appends paths to it)."""
        return str(self.alttpr_url).rstrip("/")


def _is_fernet_key(value: SecretStr) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value.get_secret_value().encode())
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32


class SecuritySettings(_Section):
    secret_key: SecretStr = Field(description="Fernet key encrypting secrets at rest")
    # NoDecode: the environment may give a JSON list or plain comma-separated keys.
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Former keys, used only to decrypt (key rotation)"
    )

    @field_validator("secret_key")
    @classmethod
    def _a_fernet_key(cls, value: SecretStr) -> SecretStr:
        if not _is_fernet_key(value):
            raise ValueError(
                "must be a Fernet key (32 url-safe base64 bytes); "
                "generate one with `python bot.py generate-key`"
            )
        return value

    @field_validator("old_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(
                    "must be a JSON list of keys or keys separated by commas"
                ) from None
        return [key.strip() for key in value.split(",") if key.strip()]

    @field_validator("old_secret_keys")
    @classmethod
    def _fernet_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for number, key in enumerate(value, start=1):
            if not _is_fernet_key(key):
                raise ValueError(
                    f"key {number} is not a Fernet key (32 url-safe base64 bytes); "
                    "each must be a former secret_key, exactly as it was"
                )
        return value


class HaSettings(_Section):
    """``[ha]``: several processes on one PostgreSQL database, one leading (issue 27)."""

    enabled: bool = False
    # How long a leader may go without renewing its lease before a standby takes over
    # (a paused or cut-off leader); a leader that dies outright is taken over within a second.
    lease_seconds: float = Field(default=8.0, ge=2.0, le=120.0)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class _EnvOverFile(BaseSettings):
    """The file's contents arrive as init kwargs; ``RACEDESK_<SECTION>__<KEY>`` wins over them."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


class Settings(_EnvOverFile):
    """Everything RaceDesk reads at start. Environment variables override the file."""

    discord: DiscordSettings
    database: DatabaseSettings = DatabaseSettings()
    racetime: RacetimeSettings = RacetimeSettings()
    oauth: OAuthSettings = OAuthSettings()
    web: WebSettings = WebSettings()
    security: SecuritySettings
    logging: LoggingSettings = LoggingSettings()
    seeds: SeedServiceSettings = SeedServiceSettings()
    ha: HaSettings = HaSettings()


class MaintenanceSettings(_EnvOverFile):
    """What database maintenance with keys (``rotate-key``) needs: no Discord token."""

    # The other sections are the bot's business; a typo inside these two is still reported.
    model_config = SettingsConfigDict(extra="ignore")

    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings


def _env_name(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in location if isinstance(part, str))


def environment_variable(location: tuple[int | str, ...]) -> str | None:
    """The ``RACEDESK_`` variable, as spelled in the environment, that gave ``location`` its
    value (the key's own variable, else its section's as JSON); None when the file did."""
    keys = [part for part in location if isinstance(part, str)]
    # pydantic-settings matches names without regard to case.
    present = {name.upper(): name for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    for length in range(len(keys), 0, -1):
        name = present.get(_env_name(tuple(keys[:length])))
        if name is not None:
            return name
    return None


def file_key(location: tuple[int | str, ...]) -> str:
    """``[web] bind_port`` for the location ``("web", "bind_port")``, as the file spells it."""
    section, *field = [str(part) for part in location if isinstance(part, str)] or [""]
    return f"[{section}] {'.'.join(field)}" if field else f"[{section}]"


def where_set(location: tuple[str, ...], config_path: Path) -> str:
    """Where to change the setting at ``location``: its environment variable when that is
    where the value came from, otherwise its key in the file."""
    variable = environment_variable(location)
    if variable is not None:
        return f"the environment variable {variable}"
    return f"{file_key(location)} in {config_path}"


def _dotted(location: tuple[int | str, ...]) -> str:
    """``security.old_secret_keys[0]`` for the location ``("security", "old_secret_keys", 0)``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _reason(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "bad value")).removeprefix("Value error, ")


def _describe(error: Mapping[str, Any], config_path: Path) -> str:
    """One line: the key (or the environment variable that set it), what is wrong with it and
    where to change it."""
    location = tuple(error.get("loc", ()))
    key = _dotted(location) or "(top level)"
    variable = environment_variable(location)
    if error.get("type") == "extra_forbidden":
        if variable is not None:
            return (
                f"{variable} is not a known setting ({key}): check its spelling against "
                "config.toml.example, or unset it."
            )
        return f"{key}: is not a known setting; check the spelling against config.toml.example"
    problem = "is missing" if error.get("type") == "missing" else f"is invalid: {_reason(error)}"
    if variable is not None:
        return (
            f"{variable} ({key}) {problem}. Fix or unset this environment variable: it "
            f"overrides {file_key(location)} in {config_path}."
        )
    return (
        f"{key} {problem}. Set it as {file_key(location)} in {config_path}, or in the "
        f"environment as {_env_name(location)}."
    )


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _no_file(missing: list[tuple[int | str, ...]], config_path: Path) -> str:
    """One line for required keys missing because there is no file at all."""
    keys = _and([_dotted(location) for location in missing])
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{config_path} does not exist, so {keys} {verb} missing: copy config.toml.example to "
        f"{config_path} and fill in {_and([file_key(location) for location in missing])}, or "
        f"set {_and([_env_name(location) for location in missing])} in the environment."
    )


def _read_file(config_path: Path) -> dict[str, Any]:
    if not config_path.exists():
        return {}
    try:
        with config_path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{config_path} cannot be read: {error.strerror}") from None


def _config_error(
    error: ValidationError, config_path: Path, prefix: tuple[str, ...] = ()
) -> ConfigError:
    """One line per problem; each names the key and where to change it."""
    details: list[dict[str, Any]] = [
        {**detail, "loc": prefix + tuple(detail.get("loc", ()))}
        for detail in error.errors(include_input=False)
    ]
    missing = [tuple(d["loc"]) for d in details if d.get("type") == "missing"]
    if missing and not config_path.exists():
        details = [d for d in details if d.get("type") != "missing"]
        lines = [_no_file(missing, config_path)]
    else:
        lines = []
    lines += [_describe(detail, config_path) for detail in details]
    return ConfigError("\n".join(lines))


SettingsT = TypeVar("SettingsT", bound=_EnvOverFile)


def _load(model: type[SettingsT], config_path: Path) -> SettingsT:
    """Validate ``model``'s sections of the file with the environment over them."""
    data = _read_file(config_path)
    # A missing required section names its missing keys ("discord.token is missing"), not
    # just the section.
    for name, field in model.model_fields.items():
        if field.is_required():
            data.setdefault(name, {})
    try:
        return model(**data)
    except ValidationError as error:
        raise _config_error(error, config_path) from None
    except SettingsError:
        raise _environment_error(model) from None


def load_settings(config_path: Path = DEFAULT_CONFIG_PATH) -> Settings:
    """Read the file, merge the environment over it, validate, or raise :class:`ConfigError`."""
    settings = _load(Settings, config_path)
    _check_oauth(settings.oauth, config_path)
    _check_ha(settings, config_path)
    return settings


def load_maintenance_settings(config_path: Path = DEFAULT_CONFIG_PATH) -> MaintenanceSettings:
    """Only ``[database]`` and ``[security]``: enough for ``rotate-key``."""
    return _load(MaintenanceSettings, config_path)


def _check_ha(settings: Settings, config_path: Path) -> None:
    """A leader and a standby share a PostgreSQL database; SQLite runs one process."""
    if settings.ha.enabled and not settings.database.url.startswith("postgresql"):
        raise ConfigError(
            f"ha.enabled needs PostgreSQL: {where_set(('ha', 'enabled'), config_path)} is "
            "true, but [database] url is a SQLite file, which runs one RaceDesk process. Set "
            "[database] url to postgresql+asyncpg://user@host/racedesk, or turn [ha] enabled "
            "off."
        )


def _check_oauth(oauth: OAuthSettings, config_path: Path) -> None:
    """Half an OAuth application is a typo, not a choice: say which half is blank."""
    blank = oauth.blank_half
    if blank is None:
        return
    given = "client_secret" if blank == "client_id" else "client_id"
    raise ConfigError(
        f"oauth.{blank} is blank but oauth.{given} is set: set {file_key(('oauth', blank))} "
        f"in {config_path} (or {_env_name(('oauth', blank))}) from your racetime.gg OAuth "
        "application, or blank both to run without account linking."
    )


def startup_warnings(settings: Settings, config_path: Path) -> list[str]:
    """What RaceDesk can start without but an admin should hear about, one line each."""
    warnings = []
    if not settings.oauth.configured:
        warnings.append(
            "Account linking is off: [oauth] client_id and client_secret are blank, so "
            "/link-racetime will not work until they are set in "
            f"{config_path} (a racetime.gg OAuth application; see config.toml.example)."
        )
    return warnings


def _environment_error(model: type[BaseSettings]) -> ConfigError:
    """A variable pydantic-settings could not decode; named, its value never shown."""
    names = _undecodable_variables(model)
    which = _and(names) if names else f"A {ENV_PREFIX}<SECTION>__<KEY> variable"
    verb = "are" if len(names) > 1 else "is"
    return ConfigError(
        f"{which} {verb} not valid JSON: fix or unset it. Lists (and whole sections) in the "
        f"environment are JSON, e.g. {ENV_PREFIX}DISCORD__OWNER_IDS='[123456789012345678]'."
    )


def _undecodable_variables(model: type[BaseSettings]) -> list[str]:
    """The variables pydantic-settings decodes as JSON (a section, a list) that are not."""
    present = {name.upper(): name for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    names = []
    for section, section_field in model.model_fields.items():
        section_model = section_field.annotation
        if not (isinstance(section_model, type) and issubclass(section_model, BaseModel)):
            continue
        decoded = [(section,)] + [
            (section, name)
            for name, field in section_model.model_fields.items()
            if get_origin(field.annotation) is list and NoDecode not in field.metadata
        ]
        for location in decoded:
            variable = present.get(_env_name(location))
            if variable is not None and not _is_json(os.environ[variable]):
                names.append(variable)
    return names


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def load_database_settings(config_path: Path = DEFAULT_CONFIG_PATH) -> DatabaseSettings:
    """Only ``[database]``, so ``db upgrade`` works before the rest is configured."""
    data = dict(_read_file(config_path).get("database", {}))
    url = os.environ.get(f"{ENV_PREFIX}DATABASE__URL")
    if url:
        data["url"] = url
    try:
        return DatabaseSettings(**data)
    except ValidationError as error:
        raise _config_error(error, config_path, prefix=("database",)) from None


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(settings: LoggingSettings) -> None:
    """Configure the root logger once, and quiet chatty libraries."""
    handler = logging.StreamHandler()
    if settings.format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.level, handlers=[handler], force=True)
    for noisy in ("discord.gateway", "discord.http", "websockets", "aiosqlite", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
