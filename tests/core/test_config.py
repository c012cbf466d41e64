"""Configuration: the file, the environment over it, and errors that say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import (
    ConfigError,
    load_maintenance_settings,
    load_settings,
    startup_warnings,
)
from db.secrets import SecretBox

REPO = Path(__file__).resolve().parents[2]
TOKEN = "discord-token-that-must-never-be-printed"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RACEDESK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def key() -> str:
    return SecretBox.generate_key()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_complete_file_loads_with_defaults(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n')
    settings = load_settings(path)
    assert settings.discord.token.get_secret_value() == TOKEN
    assert settings.database.url == "sqlite+aiosqlite:///data/racedesk.sqlite3"
    assert settings.racetime.base_url == "https://racetime.gg"
    assert settings.logging.level == "INFO"
    assert TOKEN not in repr(settings) and key not in repr(settings)


def test_the_environment_overrides_the_file(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n')
    monkeypatch.setenv("RACEDESK_RACETIME__HOST", "127.0.0.1:8765")
    monkeypatch.setenv("RACEDESK_RACETIME__SCHEME", "http")
    monkeypatch.setenv("RACEDESK_DISCORD__OWNER_IDS", "[1234567890123456789]")
    monkeypatch.setenv("RACEDESK_DISCORD__TOKEN", "from-env")
    settings = load_settings(path)
    assert settings.racetime.base_url == "http://127.0.0.1:8765"
    assert settings.discord.owner_ids == [1234567890123456789]
    assert settings.discord.token.get_secret_value() == "from-env"


def test_everything_can_come_from_the_environment(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RACEDESK_DISCORD__TOKEN", TOKEN)
    monkeypatch.setenv("RACEDESK_SECURITY__SECRET_KEY", key)
    settings = load_settings(tmp_path / "absent.toml")
    assert settings.discord.token.get_secret_value() == TOKEN


def test_a_missing_token_names_the_key_the_file_and_the_variable(
    tmp_path: Path, key: str
) -> None:
    path = write(tmp_path, f'[security]\nsecret_key = "{key}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"discord.token is missing. Set it as [discord] token in {path}, or in the environment "
        "as RACEDESK_DISCORD__TOKEN."
    )


def test_no_file_at_all_is_one_line_naming_what_to_fill_in(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "config.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"{tmp_path / 'config.toml'} does not exist, so discord.token and security.secret_key "
        "are missing: copy config.toml.example"
    )
    assert "[discord] token and [security] secret_key" in message
    assert "RACEDESK_DISCORD__TOKEN and RACEDESK_SECURITY__SECRET_KEY" in message


def test_a_bad_value_from_the_environment_is_blamed_on_the_variable(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n'
                 "[web]\nbind_port = 8080\n")
    monkeypatch.setenv("racedesk_web__bind_port", "eighty")  # matched without regard to case
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith("racedesk_web__bind_port (web.bind_port) is invalid: ")
    assert f"Fix or unset this environment variable: it overrides [web] bind_port in {path}" in (
        message
    )
    monkeypatch.setenv("RACEDESK_WEB__BINDPORT", "8080")
    monkeypatch.delenv("racedesk_web__bind_port")
    with pytest.raises(ConfigError, match=r"^RACEDESK_WEB__BINDPORT is not a known setting"):
        load_settings(path)


def test_a_whole_section_in_the_environment_that_is_not_json_is_named(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n')
    monkeypatch.setenv("RACEDESK_LOGGING", "debug")
    with pytest.raises(ConfigError, match=r"^RACEDESK_LOGGING is not valid JSON: fix or unset it"):
        load_settings(path)


@pytest.mark.parametrize("blank", ["client_id", "client_secret"])
def test_half_an_oauth_application_names_the_blank_half(
    tmp_path: Path, key: str, blank: str
) -> None:
    oauth = {"client_id": "racedesk-app", "client_secret": TOKEN, blank: "  "}
    path = write(
        tmp_path,
        f'[discord]\ntoken = "x"\n[security]\nsecret_key = "{key}"\n[oauth]\n'
        + "".join(f'{name} = "{value}"\n' for name, value in oauth.items()),
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"oauth.{blank} is blank but oauth.")
    assert f"set [oauth] {blank} in {path} (or RACEDESK_OAUTH__{blank.upper()})" in message
    assert TOKEN not in message


def test_a_blank_oauth_application_is_a_warning_not_an_error(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "x"\n[security]\nsecret_key = "{key}"\n')
    [warning] = startup_warnings(load_settings(path), path)
    assert "/link-racetime will not work until they are set" in warning
    linked = write(
        tmp_path, f'[discord]\ntoken = "x"\n[security]\nsecret_key = "{key}"\n'
        '[oauth]\nclient_id = "app"\nclient_secret = "secret"\n',
    )
    assert startup_warnings(load_settings(linked), linked) == []


def test_a_bad_value_says_what_is_expected_without_echoing_secrets(
    tmp_path: Path, key: str
) -> None:
    path = write(
        tmp_path,
        f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "not-a-key-{TOKEN}"\n'
        '[web]\nbind_port = 99999\n[racetime]\nscheme = "ftp"\n'
        '[database]\nurl = "mysql://x"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "web.bind_port is invalid" in message and "65535" in message
    assert "racetime.scheme is invalid" in message and "'https' or 'http'" in message
    assert "database.url is invalid" in message and "postgresql+asyncpg://" in message
    assert "security.secret_key is invalid" in message and "generate-key" in message
    assert TOKEN not in message


def test_unknown_keys_are_reported(tmp_path: Path, key: str) -> None:
    path = write(
        tmp_path, f'[discord]\ntokn = "x"\ntoken = "t"\n[security]\nsecret_key = "{key}"\n'
    )
    with pytest.raises(ConfigError, match=r"discord.tokn: is not a known setting"):
        load_settings(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[discord\ntoken = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(path)


def test_the_example_file_documents_every_key_and_parses() -> None:
    import tomllib

    from core.config import Settings

    example = tomllib.loads((REPO / "config.toml.example").read_text())
    for section, model in Settings.model_fields.items():
        assert section in example, f"[{section}] missing from config.toml.example"
        fields = model.annotation.model_fields  # type: ignore[union-attr]
        text = (REPO / "config.toml.example").read_text()
        for name in fields:
            assert f"{name} =" in text, f"{section}.{name} missing from config.toml.example"


def test_starting_without_a_token_exits_with_a_short_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACEDESK_")}
    result = subprocess.run(
        [sys.executable, str(REPO / "bot.py"), "--config", str(tmp_path / "config.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "discord.token and security.secret_key are missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_old_secret_keys_come_from_the_file_or_the_environment(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, older = SecretBox.generate_key(), SecretBox.generate_key()
    path = write(
        tmp_path,
        f'[discord]\ntoken = "{TOKEN}"\n'
        f'[security]\nsecret_key = "{key}"\nold_secret_keys = ["{old}"]\n',
    )
    settings = load_settings(path)
    assert [k.get_secret_value() for k in settings.security.old_secret_keys] == [old]
    assert old not in repr(settings)
    for value in (f'["{old}", "{older}"]', f"{old}, {older}"):
        monkeypatch.setenv("RACEDESK_SECURITY__OLD_SECRET_KEYS", value)
        keys = load_settings(path).security.old_secret_keys
        assert [k.get_secret_value() for k in keys] == [old, older]


def test_old_secret_keys_default_to_none(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n')
    assert load_settings(path).security.old_secret_keys == []


def test_a_bad_old_secret_key_names_the_key_not_its_value(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = f"not-a-key-{TOKEN}"
    path = write(
        tmp_path,
        f'[discord]\ntoken = "{TOKEN}"\n'
        f'[security]\nsecret_key = "{key}"\nold_secret_keys = ["{key}", "{bad}"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "security.old_secret_keys is invalid" in message
    assert "key 2 is not a Fernet key" in message
    assert "RACEDESK_SECURITY__OLD_SECRET_KEYS" in message
    assert bad not in message and key not in message

    monkeypatch.setenv("RACEDESK_SECURITY__OLD_SECRET_KEYS", f'["{bad}"')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "JSON list of keys or keys separated by commas" in message
    assert bad not in message


def test_a_list_in_the_environment_that_is_not_json_is_named(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n')
    monkeypatch.setenv("RACEDESK_DISCORD__OWNER_IDS", "123, 456")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "RACEDESK_DISCORD__OWNER_IDS is not valid JSON" in str(caught.value)


def test_maintenance_settings_need_no_discord_token(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        f'[web]\nbind_port = 8081\n[security]\nsecret_key = "{key}"\n'
        '[database]\nurl = "sqlite+aiosqlite:///x.sqlite3"\n',
    )
    settings = load_maintenance_settings(path)
    assert settings.database.url == "sqlite+aiosqlite:///x.sqlite3"
    assert settings.security.secret_key.get_secret_value() == key
    with pytest.raises(ConfigError, match=r"security\.secret_key is missing"):
        load_maintenance_settings(tmp_path / "absent.toml")
    bad = write(tmp_path, f'[security]\nsecret_key = "{key}"\nold_secret_key = []\n')
    with pytest.raises(ConfigError, match=r"security\.old_secret_key: is not a known setting"):
        load_maintenance_settings(bad)


def test_ha_is_off_by_default_and_needs_postgresql(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f'[discord]\ntoken = "{TOKEN}"\n[security]\nsecret_key = "{key}"\n'
    assert load_settings(write(tmp_path, base)).ha.enabled is False

    path = write(tmp_path, base + "[ha]\nenabled = true\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    assert str(refused.value).startswith(f"ha.enabled needs PostgreSQL: [ha] enabled in {path}")
    assert "turn [ha] enabled off" in str(refused.value)

    monkeypatch.setenv("RACEDESK_DATABASE__URL", "postgresql+asyncpg://racedesk@db/racedesk")
    monkeypatch.setenv("RACEDESK_HA__LEASE_SECONDS", "12")
    settings = load_settings(path)
    assert (settings.ha.enabled, settings.ha.lease_seconds) == (True, 12.0)

    monkeypatch.setenv("RACEDESK_HA__LEASE_SECONDS", "1")
    with pytest.raises(ConfigError, match="RACEDESK_HA__LEASE_SECONDS"):
        load_settings(path)


@pytest.mark.parametrize(
    ("written", "expected"), [(None, "off"), ('"auto"', "auto"), ("4", 4), ('"off"', "off")]
)
def test_shards_are_off_auto_or_a_number(
    tmp_path: Path, key: str, written: str | None, expected: object
) -> None:
    shards = f"shards = {written}\n" if written else ""
    path = write(tmp_path, f'[discord]\ntoken = "t"\n{shards}[security]\nsecret_key = "{key}"\n')
    assert load_settings(path).discord.shards == expected


def test_shards_from_the_environment_and_bad_ones_named(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "t"\n[security]\nsecret_key = "{key}"\n')
    monkeypatch.setenv("RACEDESK_DISCORD__SHARDS", "8")
    assert load_settings(path).discord.shards == 8
    for bad in ("0", "many"):
        monkeypatch.setenv("RACEDESK_DISCORD__SHARDS", bad)
        with pytest.raises(ConfigError, match="RACEDESK_DISCORD__SHARDS"):
            load_settings(path)
