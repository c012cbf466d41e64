"""Remove each redelivery guard once and see which redelivery tests fail.

    .venv/bin/python -m tests.redelivery.mutations [NAME ...]

Each mutation edits one source file (a guard taken out), runs ``tests/redelivery`` and puts
the file back. A guard whose removal fails no test is either backed by another guard (the
table says which; the combined mutation shows it) or not tested: that is what this is for.
Refuses to run when a file it edits has uncommitted changes. Not collected by pytest.

Last run (issue 22): every guard alone fails at least one test, except four that are second
guards by design and fail tests only together with the first: the notification rows' ON
CONFLICT (with the receipt: 19 fail), one open incident per subject (with the receipt: 3),
the live race's derived event ids (with the receipt: 8) and the room claim's ``announced_at``
(behind the opened event's stable id, which the log deduplicates).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Edit:
    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutation:
    name: str
    guard: str
    edits: tuple[Edit, ...]


EMITTING = Edit(
    "core/event_store/exactly_once.py",
    "            if await claim_receipt(outbox.session, name, event.event_id):\n"
    "                await record(outbox, event)",
    "            await claim_receipt(outbox.session, name, event.event_id)\n"
    "            await record(outbox, event)",
)
PLAIN = Edit(
    "core/event_store/exactly_once.py",
    "            if await claim_receipt(session, name, event.event_id):\n"
    "                await record(session, event)",
    "            await claim_receipt(session, name, event.event_id)\n"
    "            await record(session, event)",
)
ROWS_UNIQUE = Edit(
    "db/queries/notifications.py",
    '        .on_conflict_do_nothing(index_elements=["event_id", "user_id"])\n',
    "",
)
OPEN_KEY = Edit(
    "core/racetime_bots/alerts.py",
    "        open_now = await self._open_incident(session, subject)\n"
    "        if open_now is not None:\n"
    "            return False\n",
    "",
)
DERIVED_IDS = Edit(
    "core/live_races/results.py",
    "    digest = hashlib.sha256(source_event_id.encode()).hexdigest()[:32]",
    "    import uuid\n    digest = uuid.uuid4().hex",
)
REFUSED_KEY = Edit(
    "core/events/matches.py",
    "    def stable_key(self) -> str | None:\n        return (\n"
    '            f"{self.kind}:{self.match_id}:{self.category}/{self.room_slug}:"',
    "    def stable_key(self) -> str | None:\n        return None\n        return (\n"
    '            f"{self.kind}:{self.match_id}:{self.category}/{self.room_slug}:"',
)
ANNOUNCED_AT = Edit(
    "core/rooms/match_rooms.py",
    "if claim is None or claim.announced_at is not None or claim.slug != slug:",
    "if claim is None or claim.slug != slug:",
)

MUTATIONS = [
    Mutation("emitting", "exactly_once_emitting's receipt check", (EMITTING,)),
    Mutation("plain", "exactly_once's receipt check", (PLAIN,)),
    Mutation("announcements", "AnnouncementsCog.announce's SentOnce check", (Edit(
        "cogs/announcements.py",
        "if announcement is None or await self._announcements.posted(event.event_id):",
        "if announcement is None:",
    ),)),
    Mutation("link-dms", "LinkingCog.tell's SentOnce check", (Edit(
        "cogs/linking.py",
        "        if await self._receipts.done(event.event_id):\n            return\n"
        "        if isinstance(event, RacetimeAccountLinkedEvent):",
        "        if isinstance(event, RacetimeAccountLinkedEvent):",
    ),)),
    Mutation("live-race-entrants", "LiveRaceRooms._on_entrant's SentOnce check", (Edit(
        "core/live_races/rooms.py",
        "        if await self._told.done(event.event_id):\n            return\n",
        "",
    ),)),
    Mutation("rows-unique", "notification rows' ON CONFLICT DO NOTHING", (ROWS_UNIQUE,)),
    Mutation("plain+rows-unique", "the notifications' receipt and their rows' ON CONFLICT",
             (PLAIN, ROWS_UNIQUE)),
    Mutation("open-key", "one open incident per subject", (OPEN_KEY,)),
    Mutation("plain+open-key", "the alerts' receipt and one open incident per subject",
             (PLAIN, OPEN_KEY)),
    Mutation("derived-ids", "live race events' ids derived from the room event",
             (DERIVED_IDS,)),
    Mutation("emitting+derived-ids", "the live race's receipt and its derived ids",
             (EMITTING, DERIVED_IDS)),
    Mutation("refused-key", "MatchInviteRefusedEvent's stable id", (REFUSED_KEY,)),
    Mutation("announced-at", "the match room claim's announced_at", (ANNOUNCED_AT,)),
]


def _dirty(paths: set[str]) -> list[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", *sorted(paths)],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout
    return out.splitlines()


def run(mutation: Mutation) -> list[str]:
    """The redelivery tests that fail with ``mutation`` applied (the files put back after)."""
    originals: dict[Path, str] = {}
    try:
        for edit in mutation.edits:
            path = REPO / edit.path
            originals.setdefault(path, path.read_text())
            current = path.read_text()
            if edit.old not in current:
                raise SystemExit(f"{mutation.name}: the guard is not where expected in {edit.path}")
            path.write_text(current.replace(edit.old, edit.new, 1))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/redelivery", "-q", "-p", "no:randomly",
             "-p", "no:cacheprovider"],
            cwd=REPO, capture_output=True, text=True, check=False,
        )
    finally:
        for path, text in originals.items():
            path.write_text(text)
    return [line.split(" - ")[0].removeprefix("FAILED ")
            for line in result.stdout.splitlines() if line.startswith("FAILED ")]


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    dirty = _dirty({edit.path for m in chosen for edit in m.edits})
    if dirty:
        print("Commit or stash these first:", *dirty, sep="\n  ")
        return 2
    for mutation in chosen:
        failed = run(mutation)
        print(f"{mutation.name}: without {mutation.guard}: "
              f"{len(failed)} failing" + "".join(f"\n    {test}" for test in failed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
