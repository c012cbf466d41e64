"""Every room command by every kind of sender, against the access policy: who is answered with
the command's result and who with a refusal (bot and system messages never become commands:
``tests/racetime/test_chat.py``)."""

from __future__ import annotations

from core.access.rules import LINK_FIRST
from core.room_commands.catalog import CATALOG, Command
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.room_commands.scene import match_room

TYPED = {
    Command.HELP: "!help",
    Command.MATCH: "!match",
    Command.SEED: "!seed",
    Command.LOCK: "!lock",
    Command.UNLOCK: "!unlock",
    Command.FPA: "!fpa testing",
    Command.BREAKS: "!breaks off",
}
# Sender -> the commands they may use in a match room before the start.
SENDERS = {
    "RacerOne": {Command.HELP, Command.MATCH, Command.SEED, Command.FPA},  # an entrant
    "RacerThree": {Command.HELP, Command.MATCH, Command.SEED, Command.LOCK, Command.UNLOCK,
                   Command.BREAKS},  # an organizer (Manage Server), not racing
    "Walt": {Command.HELP, Command.MATCH},  # linked, neither in the server nor the race
    "Stranger": set(),  # never linked: told to link first
}
REFUSALS = (LINK_FIRST, "Only the race's entrants", "Only organizers can do this")


async def test_each_sender_may_use_what_the_policy_gives_them(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> None:
    assert set(TYPED) == set(CATALOG)
    wrong: list[str] = []
    async with match_room(db_url, secret_box, fake_racetime) as scene:
        for sender, may in SENDERS.items():
            for command, text in TYPED.items():
                answer = await scene.say(sender, text)
                refused = any(refusal in answer for refusal in REFUSALS)
                if refused == (command in may):
                    wrong.append(f"{sender} {text}: {answer}")
                if sender == "Stranger" and answer != f"Stranger: {LINK_FIRST}":
                    wrong.append(f"{sender} {text}: {answer}")
    assert wrong == []
