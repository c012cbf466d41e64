"""racetime.models: decoding real and edge-case payloads, and the date/duration helpers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from racetime.models import (
    CategoryData,
    ChatMessageFrame,
    ErrorFrame,
    PongFrame,
    Race,
    RaceDataFrame,
    RaceRendersFrame,
    UnknownFrame,
    decode_category,
    decode_frame,
    decode_race,
    format_iso_duration,
    parse_racetime_datetime,
    parse_racetime_duration,
    race_from_dict,
)
from tests.racetime import frames as fb

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/fixtures/racetime"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_the_fixture_copies_are_present() -> None:
    names = {p.name for p in FIXTURE_FILES}
    assert {
        "http_race_data_invitational_unlisted.json",
        "ws_chat_message_user.json",
        "ws_race_data_finished.json",
        "ws_race_data_in_progress.json",
        "ws_race_data_open.json",
        "ws_race_data_pending.json",
    } <= names


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason="no shared fixtures folder here")
def test_the_fixture_copies_match_the_shared_fixtures() -> None:
    for shared in SHARED_FIXTURES.glob("*.json"):
        copy = FIXTURES / shared.name
        assert copy.is_file(), f"{shared.name} is not copied into tests/racetime/fixtures"
        assert json.loads(copy.read_text()) == json.loads(shared.read_text())


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_every_fixture_decodes(path: Path) -> None:
    raw = path.read_bytes()
    payload = json.loads(raw)
    if "type" in payload:
        frame = decode_frame(raw)
        assert frame is not None
        assert frame.type == payload["type"]
        assert frame.date == payload["date"]
        assert decode_frame(raw.decode()) == frame  # str input too
        if isinstance(frame, RaceDataFrame):
            assert frame.version == payload["version"]
            race = frame.race
            expected = payload["race"]
        else:
            return
    else:
        race = decode_race(raw)
        assert race is not None
        expected = payload
    assert race.version == expected["version"]
    assert race.name == expected["name"]
    assert race.status.value == expected["status"]["value"]
    assert race.entrants_count == expected["entrants_count"]
    assert len(race.entrants) == len(expected["entrants"])
    assert race_from_dict(expected) == race


def test_race_data_fields() -> None:
    frame = decode_frame((FIXTURES / "ws_race_data_finished.json").read_bytes())
    assert isinstance(frame, RaceDataFrame)
    race = frame.race
    assert race.name == "testgame/fancy-wolf-4891"
    assert race.slug == race.room_slug == "fancy-wolf-4891"
    assert race.category_slug == "testgame"
    assert race.category is not None and race.category.name == "Test Game"
    assert race.status.value == "finished"
    assert race.status.verbose_value == "Finished"
    assert race.status.help_text == "This race has been completed"
    assert race.goal is not None and race.goal.name == "Beat the game" and not race.goal.custom
    assert race.info == "flow test" and race.info_bot == "" and race.info_user == "flow test"
    assert race.opened_by is None and race.opened_by_bot == "TestBot"
    assert race.monitors == [] and race.bot_meta == {}
    assert race.websocket_bot_url == "/ws/o/bot/fancy-wolf-4891"
    assert (race.entrants_count, race.entrants_count_finished, race.entrants_count_inactive) == (
        2,
        1,
        1,
    )
    assert race.is_terminal
    assert race.started_at_datetime() == datetime(2026, 11, 23, 14, 42, 13, 289000, tzinfo=UTC)
    assert race.ended_at_datetime() == datetime(2026, 11, 23, 14, 42, 25, 245000, tzinfo=UTC)
    assert race.cancelled_at_datetime() is None
    assert frame.date_datetime() == datetime(2026, 11, 23, 14, 42, 25, 283816, tzinfo=UTC)

    first, second = race.entrants
    assert first.user is not None
    assert first.user_id == "4BlRneEk9jxN6Qka"
    assert first.display_name == "RacerOne#8145"
    assert first.user.discriminator == "8145"
    assert first.status.value == "done"
    assert first.place == 1 and first.place_ordinal == "1st"
    assert first.finish_time == "P0DT00H00M07.407000S"
    assert first.finish_duration() == timedelta(seconds=7, microseconds=407000)
    assert first.finished_at_datetime() == datetime(2026, 11, 23, 14, 42, 20, 696000, tzinfo=UTC)
    assert first.actions == ["add_comment", "undone"]
    assert second.status.value == "dnf"
    assert second.place is None and second.finish_time is None
    assert second.finish_duration() is None


def test_http_race_data_invitational_unlisted() -> None:
    race = decode_race((FIXTURES / "http_race_data_invitational_unlisted.json").read_text())
    assert race is not None
    assert race.status.value == "invitational"
    assert race.unlisted is True
    assert race.goal is not None and race.goal.custom and race.goal.name == "Any% custom"
    assert race.entrants == []
    assert race.time_limit is not None
    assert parse_racetime_duration(race.time_limit) == timedelta(hours=2)


def test_chat_message_frame() -> None:
    frame = decode_frame((FIXTURES / "ws_chat_message_user.json").read_bytes())
    assert isinstance(frame, ChatMessageFrame)
    message = frame.message
    assert message.user is not None and message.user.name == "RacerOne"
    assert message.message == "hi all"
    assert message.is_monitor is False and not message.is_system and not message.is_bot


def test_system_chat_message_with_null_user_and_monitor() -> None:
    raw = json.dumps(
        {
            "type": "chat.message",
            "date": "2026-11-23T14:42:03.3+00:00",
            "message": {"id": "x", "user": None, "bot": None, "message": "5…", "is_system": True,
                        "is_monitor": None, "actions": None},
        }
    )
    frame = decode_frame(raw)
    assert isinstance(frame, ChatMessageFrame)
    assert frame.message.user is None and frame.message.is_system


def test_light_frames() -> None:
    renders = decode_frame(
        '{"type": "race.renders", "date": "d", "version": 7,'
        ' "renders": {"entrants": "<ul>...</ul>", "intro": "", "status": "", "streams": ""}}'
    )
    assert renders == RaceRendersFrame(date="d", version=7)
    assert decode_frame('{"type": "pong", "date": "d"}') == PongFrame(date="d")
    error = decode_frame('{"type": "error", "errors": ["Permission denied."]}')
    assert isinstance(error, ErrorFrame) and error.errors == ["Permission denied."]


def test_unknown_frame_type_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="racetime.models"):
        frame = decode_frame('{"type": "race.hologram", "date": "d", "x": [1, 2]}')
    assert frame == UnknownFrame(type="race.hologram", date="d")
    assert frame.type == "race.hologram"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unknown_keys_are_ignored() -> None:
    payload = load("ws_race_data_in_progress.json")
    payload["brand_new"] = {"a": 1}
    payload["race"]["brand_new"] = [1, 2, 3]
    payload["race"]["status"]["colour"] = "green"
    payload["race"]["entrants"][0]["user"]["badge"] = "gold"
    payload["race"]["entrants"][0]["splits"] = []
    frame = decode_frame(json.dumps(payload))
    assert isinstance(frame, RaceDataFrame)
    assert frame.race.entrants[0].user_id == "4BlRneEk9jxN6Qka"


def test_missing_optional_keys_take_defaults() -> None:
    minimal = {
        "type": "race.data",
        "race": {
            "name": "testgame/a-b-1",
            "status": {"value": "open"},
            "entrants": [{"user": {"id": "u" * 16}, "status": {"value": "not_ready"}}],
        },
        "version": 4,
    }
    frame = decode_frame(json.dumps(minimal))
    assert isinstance(frame, RaceDataFrame)
    race = frame.race
    assert race.version == 4  # taken from the envelope when the race lacks it
    assert race.slug == "" and race.room_slug == "a-b-1" and race.category_slug == "testgame"
    assert race.category is None and race.goal is None and race.started_at is None
    entrant = race.entrants[0]
    assert entrant.user is not None and entrant.user.full_name is None
    assert entrant.display_name == "u" * 16
    assert entrant.place is None and entrant.actions == []


def test_null_user_deleted_account() -> None:
    payload = load("ws_race_data_finished.json")
    payload["race"]["entrants"][1]["user"] = None
    frame = decode_frame(json.dumps(payload))
    assert isinstance(frame, RaceDataFrame)
    assert frame.race.entrants[1].user is None
    assert frame.race.entrants[1].user_id is None
    assert frame.race.entrants[1].display_name is None


def test_null_discriminator() -> None:
    payload = load("ws_race_data_open.json")
    payload["race"]["entrants"][0]["user"]["discriminator"] = None
    payload["race"]["entrants"][0]["user"]["full_name"] = "RacerOne"
    frame = decode_frame(json.dumps(payload))
    assert isinstance(frame, RaceDataFrame)
    user = frame.race.entrants[0].user
    assert user is not None and user.discriminator is None and user.display_name == "RacerOne"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"42",
        b"null",
        b'"race.data"',
        b"{}",
        b'{"type": 5}',
        b'{"type": null, "race": {}}',
        b'{"type": "race.data"}',
        b'{"type": "race.data", "race": null}',
        b'{"type": "race.data", "race": {"name": "a/b"}}',
        b'{"type": "race.data", "race": {"name": "a/b", "status": "open"}}',
        b'{"type": "race.data", "race": {"name": "a/b", "status": {"value": "open"},'
        b' "entrants": [{"user": null}]}}',
        b'{"type": "race.data", "race": {"name": "a/b", "status": {"value": "open"},'
        b' "version": "7"}}',
        b'{"type": "chat.message", "message": "hi"}',
        b'{"type": "error", "errors": "nope"}',
        b"\xff\xfe\x00",
    ],
)
def test_garbage_decodes_to_none(raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="racetime.models"):
        assert decode_frame(raw) is None
    assert any(r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.parametrize("raw", [None, 42, object(), ["type"]])
def test_wrong_python_types_decode_to_none(raw: object) -> None:
    assert decode_frame(raw) is None  # type: ignore[arg-type]
    assert decode_race(raw) is None  # type: ignore[arg-type]
    assert decode_category(raw) is None  # type: ignore[arg-type]


def test_http_decoders_reject_garbage() -> None:
    assert decode_race(b"[]") is None
    assert decode_race(b'{"name": "a/b"}') is None
    assert race_from_dict({"name": "a/b", "status": {"value": 3}}) is None
    assert decode_category(b"{}") is None


def test_race_from_dict_matches_decode() -> None:
    payload = load("ws_race_data_pending.json")
    assert race_from_dict(payload["race"]) == decode_race(json.dumps(payload["race"]))


CATEGORY = {
    "name": "Test Game",
    "short_name": "TG",
    "slug": "testgame",
    "url": "/testgame",
    "data_url": "/testgame/data",
    "image": None,
    "info": None,
    "streaming_required": False,
    "owners": [fb.user(1)],
    "moderators": [fb.user(2)],
    "goals": ["Beat the game"],
    "current_races": [
        {
            "name": "testgame/speedy-ramuh-6742",
            "status": fb.status("open", race=True),
            "url": "/testgame/speedy-ramuh-6742",
            "data_url": "/testgame/speedy-ramuh-6742/data",
            "goal": {"name": "Beat the game", "custom": False},
            "info": "",
            "entrants_count": 0,
            "entrants_count_finished": 0,
            "entrants_count_inactive": 0,
            "opened_at": "2026-11-23T14:37:23.472Z",
            "started_at": None,
            "time_limit": "P1DT00H00M00S",
            "opened_by_bot": "TestBot",
        }
    ],
    "emotes": {},
}


def test_category_data() -> None:
    category = decode_category(json.dumps(CATEGORY))
    assert isinstance(category, CategoryData)
    assert category.slug == "testgame"
    assert category.goals == ["Beat the game"]
    assert category.owners[0].id == fb.user(1)["id"]
    (summary,) = category.current_races
    assert summary.slug == "speedy-ramuh-6742" and summary.category_slug == "testgame"
    assert summary.status.value == "open"
    assert summary.opened_by_bot == "TestBot"
    assert parse_racetime_duration(summary.time_limit) == timedelta(days=1)


def test_builder_frames_decode_like_fixtures() -> None:
    """The builder used by the bench produces the same key set as the captured frames."""
    built = fb.race_data_frame(fb.race(version=3, status_value="open", entrants=[
        fb.entrant(fb.user(1), "ready")
    ]))
    real = load("ws_race_data_open.json")
    assert set(built) == set(real)
    assert set(built["race"]) == set(real["race"])
    assert set(built["race"]["entrants"][0]) == set(real["race"]["entrants"][0])
    assert set(built["race"]["entrants"][0]["user"]) == set(real["race"]["entrants"][0]["user"])
    assert isinstance(decode_frame(fb.encode(built)), RaceDataFrame)


def test_models_are_immutable() -> None:
    race = decode_race((FIXTURES / "http_race_data_invitational_unlisted.json").read_bytes())
    assert isinstance(race, Race)
    with pytest.raises(AttributeError):
        race.version = 99  # type: ignore[misc]
    assert msgspec.structs.replace(race, version=2).version == 2


# -- dates and durations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T14:42:13.289Z", datetime(2026, 11, 23, 14, 42, 13, 289000, tzinfo=UTC)),
        ("2026-11-23T14:42:13Z", datetime(2026, 11, 23, 14, 42, 13, tzinfo=UTC)),
        (
            "2026-11-23T14:41:37.842107+00:00",
            datetime(2026, 11, 23, 14, 41, 37, 842107, tzinfo=UTC),
        ),
        ("2026-11-23T16:42:13+02:00", datetime(2026, 11, 23, 14, 42, 13, tzinfo=UTC)),
        ("2026-11-23T14:42:13", datetime(2026, 11, 23, 14, 42, 13, tzinfo=UTC)),
    ],
)
def test_parse_racetime_datetime(text: str, expected: datetime) -> None:
    parsed = parse_racetime_datetime(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


def test_parse_racetime_datetime_none_and_garbage() -> None:
    assert parse_racetime_datetime(None) is None
    for bad in ("", "yesterday", "2026-13-01T00:00:00Z"):
        with pytest.raises(ValueError):
            parse_racetime_datetime(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P0DT00H00M07.407000S", timedelta(seconds=7, microseconds=407000)),
        ("P1DT00H00M00S", timedelta(days=1)),
        ("P0DT01H23M45S", timedelta(hours=1, minutes=23, seconds=45)),
        ("P0DT00H00M10S", timedelta(seconds=10)),
        ("P3DT00H00M00S", timedelta(days=3)),
        ("-P0DT00H00M01.500000S", -timedelta(seconds=1.5)),
        ("PT1H23M45S", timedelta(hours=1, minutes=23, seconds=45)),
        ("PT7.407S", timedelta(seconds=7, microseconds=407000)),
        ("PT0.0000015S", timedelta(microseconds=1)),  # beyond microseconds: truncated
        ("P2D", timedelta(days=2)),
        ("P0DT00H05M", timedelta(minutes=5)),
    ],
)
def test_parse_racetime_duration(text: str, expected: timedelta) -> None:
    assert parse_racetime_duration(text) == expected


def test_parse_racetime_duration_none_and_garbage() -> None:
    assert parse_racetime_duration(None) is None
    for bad in ("", "P", "PT", "-P", "7.4", "P0DT00H00M07.S", "1:23:45", "PT1H23M45", "P1Y"):
        with pytest.raises(ValueError):
            parse_racetime_duration(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(seconds=7, microseconds=407000), "PT7.407S"),
        (timedelta(hours=1, minutes=23, seconds=45), "PT1H23M45S"),
        (timedelta(hours=26), "PT26H"),
        (timedelta(days=1), "PT24H"),
        (timedelta(0), "PT0S"),
        (timedelta(minutes=5), "PT5M"),
        (timedelta(hours=1, seconds=1), "PT1H1S"),
        (timedelta(microseconds=1), "PT0.000001S"),
        (timedelta(seconds=59, microseconds=999999), "PT59.999999S"),
        (-timedelta(seconds=7, microseconds=407000), "-PT7.407S"),
    ],
)
def test_format_iso_duration(value: timedelta, expected: str) -> None:
    assert format_iso_duration(value) == expected
    assert parse_racetime_duration(expected) == value  # round trip


def test_durations_from_the_server_round_trip_through_the_canonical_form() -> None:
    for text in ("P0DT00H00M07.407000S", "P1DT02H03M04.000005S", "P0DT00H00M00S"):
        value = parse_racetime_duration(text)
        assert value is not None
        assert parse_racetime_duration(format_iso_duration(value)) == value
    assert fb.duration(timedelta(days=1)) == "P1DT00H00M00S"
    assert fb.duration(timedelta(seconds=7.407)) == "P0DT00H00M07.407000S"


def test_non_utc_timezone_is_converted() -> None:
    parsed = parse_racetime_datetime("2026-11-23T09:42:13-05:00")
    assert parsed == datetime(2026, 11, 23, 14, 42, 13, tzinfo=timezone.utc)  # noqa: UP017
    assert parsed is not None and parsed.utcoffset() == timedelta(0)
