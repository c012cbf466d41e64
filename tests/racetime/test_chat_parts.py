"""The pure parts of hearing a room's chat: what a command is, the history's order, the
``message`` action and the tolerant ``chat.history`` decoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from racetime.chat import RecentIds, chronological, command_in, message_action
from racetime.models import ChatHistoryFrame, ChatMessage, ChatMessageFrame, decode_frame

FIXTURES = Path(__file__).parent.parent.parent.parent / "shared" / "fixtures" / "racetime"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/racetime")


def message(text: str, **extra: Any) -> ChatMessage:
    data: dict[str, Any] = {
        "id": "k86yn1Yp1rRgV0B5",
        "user": {"id": "4BlRneEk9jxN6Qka", "full_name": "RacerOne#8145", "name": "RacerOne"},
        "posted_at": "2026-11-23T14:41:37.842107+00:00",
        "message": text,
        "message_plain": text,
    }
    data.update(extra)
    return msgspec.convert(data, ChatMessage)


def test_the_captured_message_is_no_command_and_a_bang_word_is() -> None:
    frame = decode_frame((FIXTURES / "ws_chat_message_user.json").read_bytes())
    assert isinstance(frame, ChatMessageFrame)
    assert command_in(frame.message) is None  # "hi all"
    raw = json.loads((FIXTURES / "ws_chat_message_user.json").read_text())
    raw["message"]["message"] = raw["message"]["message_plain"] = "\t!FPA  my  stream died"
    frame = decode_frame(json.dumps(raw))
    assert isinstance(frame, ChatMessageFrame)
    command = command_in(frame.message)
    assert command is not None
    assert (command.command, command.text) == ("fpa", "\t!FPA  my  stream died")
    assert (command.racetime_user_id, command.racetime_user_name) == (
        "4BlRneEk9jxN6Qka", "RacerOne#8145"
    )
    assert command.posted_at is not None and command.posted_at.microsecond == 842107


@pytest.mark.parametrize(
    ("text", "extra"),
    [
        ("!seed", {"is_bot": True, "user": None, "bot": "TestBot"}),
        ("!seed", {"bot": "TestBot"}),
        ("!seed", {"is_system": True, "user": None}),
        ("!seed", {"is_dm": True}),
        ("!seed", {"direct_to": "AAAAAAAAAAAAAAAA"}),
        ("!seed", {"user": None}),
        ("!seed", {"id": None}),
        ("!seed", {"id": "not/an/id"}),
        ("!seed", {"user": {"id": "bad id"}}),
        ("!", {}),
        ("hi !seed", {}),
        ("", {}),
        ("!seed " + "x" * 5000, {}),
    ],
)
def test_not_a_command(text: str, extra: dict[str, Any]) -> None:
    assert command_in(message(text, **extra)) is None


def test_the_plain_text_is_read_and_markup_is_not() -> None:
    marked = message("##bot##!seed##", message_plain="!seed")
    command = command_in(marked)
    assert command is not None and command.text == "!seed"
    without_plain = message("!Match now", message_plain=None)
    command = command_in(without_plain)
    assert command is not None and (command.command, command.text) == ("match", "!Match now")


def test_history_in_time_order_with_pinned_ones_put_back() -> None:
    def at(mid: str, when: str | None) -> ChatMessage:
        return message("x", id=mid, posted_at=when)

    # racetime: unpinned first, then the pinned ones (here an older and a newer one).
    sent = [
        at("a1", "2026-11-23T10:00:01+00:00"),
        at("a2", None),
        at("a3", "2026-11-23T10:00:03+00:00"),
        at("p0", "2026-11-23T10:00:00+00:00"),
        at("p4", "2026-11-23T10:00:04+00:00"),
    ]
    assert [m.id for m in chronological(sent)] == ["p0", "a1", "a2", "a3", "p4"]
    assert chronological([at("x", None), at("y", "bad")]) == [at("x", None), at("y", "bad")]


def test_recent_ids_forget_the_oldest() -> None:
    seen = RecentIds(limit=2)
    for value in ("a", "b", "c"):
        seen.add(value)
    assert "a" not in seen and "b" in seen and "c" in seen


def test_the_message_action() -> None:
    frame = json.loads(message_action("hi", guid="fixed-guid-1"))
    assert frame == {
        "action": "message",
        "data": {"message": "hi", "direct_to": None, "actions": None, "pinned": False,
                 "guid": "fixed-guid-1"},
    }
    fresh = json.loads(message_action("hi"))["data"]["guid"]
    assert fresh != json.loads(message_action("hi"))["data"]["guid"]
    survey = ({"name": "p", "type": "input"},)
    data = json.loads(
        message_action("roll", actions={"Roll": {"message": "!seed ${p}", "survey": survey}})
    )["data"]
    assert data["actions"] == {"Roll": {"message": "!seed ${p}", "survey": [survey[0]]}}
    with pytest.raises(ValueError, match="guid"):
        message_action("hi", guid="")


def test_a_history_frame_keeps_its_good_messages() -> None:
    good = {"id": "goodGoodGood0001", "message": "!seed", "user": {"id": "AAAAAAAAAAAAAAAA"}}
    frame = decode_frame(json.dumps(
        {"type": "chat.history", "messages": [1, None, {"user": 5}, good, "x"]}
    ))
    assert isinstance(frame, ChatHistoryFrame)
    assert [m.id for m in frame.chat_messages()] == ["goodGoodGood0001"]
    for odd in ({"type": "chat.history"}, {"type": "chat.history", "messages": {"a": 1}}):
        frame = decode_frame(json.dumps(odd))
        assert isinstance(frame, ChatHistoryFrame) and frame.chat_messages() == []
