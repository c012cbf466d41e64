"""Excerpts of the rehearsal's timeline in the guides (``docs/*.md``), so they stay true.

Discord cannot be screenshotted here; the rehearsal's timeline shows instead what a member
typed and what RaceDesk answered. A guide marks a place for one step of one scene::

    <!-- rehearsal: A tournament match: scheduled, opened on time, raced, results recorded
         | Grace schedules the Final: its room falls due 3 s from now -->
    ~~~text
    ...written by `python -m rehearsal.excerpts`...
    ~~~
    <!-- /rehearsal -->

(Tilde fences, since replies themselves may hold backtick fences.)

``python -m rehearsal.excerpts`` plays the rehearsal and rewrites every marked block;
``--check`` only says which blocks no longer match what the rehearsal shows (the test suite
does the same check). Events are left out (they are RaceDesk's inside), and the loopback
addresses of the fake racetime.gg and of RaceDesk's web server read as real ones.

The rehearsal is played as if it were :data:`START_AT` (``--start-at``), with the fake
racetime.gg's names seeded and its clock moved only by the scenes, so every run shows the
same dates, names and race times: the excerpts are the same, byte for byte, whatever the day
and however fast the machine. Only the order of things that happen at once may differ, which
the check allows.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
# The instant the guides' rehearsal is played at: a Saturday evening, a usual race time.
START_AT = "2026-12-05T18:00:00Z"
RACETIME_URL = "https://racetime.gg"
WEB_URL = "https://racedesk.example.org"

_STAMP = re.compile(r"^\[\d\d:\d\d\.\d\] ")
_HEADING = re.compile(r"^== Scene \d+: (.*)$")
_DONE = re.compile(r"^✓ +(.*)$")
_FAKE_RACETIME = re.compile(r"racetime\.gg is the project's fake server at (http://[\d.:]+)")
_FAKE_ALTTPR = re.compile(r"alttpr\.com \(seeds\) is the project's fake at (http://[\d.:]+)")
ALTTPR_URL = "https://alttpr.com"
_LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+")
_BLOCK = re.compile(
    r"(?P<open><!-- rehearsal: (?P<scene>.+?)\s*\|\s*(?P<step>.+?) -->\n)"
    r"~~~text\n(?P<body>.*?)~~~\n"
    r"(?P<close><!-- /rehearsal -->)",
    re.S,
)
_HIDDEN = ("event ",)  # who RaceDesk's inside speaks as; not what a member sees


@dataclass(frozen=True, slots=True)
class Block:
    path: Path
    scene: str
    step: str
    body: str


def steps(timeline: str) -> dict[tuple[str, str], list[str]]:
    """Each step's lines, by (scene title, step title): what happened since the step before.

    Lines are the timeline's without their time stamps; lines under a hidden speaker (events)
    are left out; the step's own ✓ line closes it and is not part of it.
    """
    racetime = _FAKE_RACETIME.search(timeline)
    alttpr = _FAKE_ALTTPR.search(timeline)
    fakes = [(m.group(1), url) for m, url in ((racetime, RACETIME_URL), (alttpr, ALTTPR_URL))
             if m is not None]
    found: dict[tuple[str, str], list[str]] = {}
    lines: list[str] = []
    scene, hidden = "", False
    for raw in timeline.splitlines():
        stamped = _STAMP.match(raw)
        text = raw[stamped.end():] if stamped else raw
        if stamped:
            if heading := _HEADING.match(text):
                scene, lines = heading.group(1), []
                continue
            if done := _DONE.match(text):
                found[(scene, " ".join(done.group(1).split()))] = lines
                lines = []
                continue
            hidden = text.startswith(_HIDDEN)
        elif not raw.startswith(" ") or not scene:
            continue  # the introduction and the closing notes
        if not hidden:
            lines.append(_readable(text if stamped else raw[len("[00:00.0] "):], fakes))
    return found


def _readable(line: str, fakes: list[tuple[str, str]]) -> str:
    """The line as the real sites would show it: each fake's loopback address becomes the
    real site's, and any other loopback address is RaceDesk's own web server."""
    for fake_url, real_url in fakes:
        line = line.replace(fake_url, real_url)
    return _LOOPBACK.sub(WEB_URL, line).rstrip()


def blocks(paths: list[Path]) -> list[Block]:
    return [
        Block(path, " ".join(m["scene"].split()), " ".join(m["step"].split()), m["body"])
        for path in paths
        for m in _BLOCK.finditer(path.read_text())
    ]


# -- comparing ---------------------------------------------------------------------------------


def stale(block: Block, found: dict[tuple[str, str], list[str]]) -> str | None:
    """Why ``block`` no longer shows what the rehearsal does in its step, or None.

    Its step must still be played and show exactly the block's lines; their order may differ
    (two DMs sent at once arrive in either order).
    """
    if (block.scene, block.step) not in found:
        return f"the rehearsal has no step {block.step!r} in the scene {block.scene!r}"
    shown = Counter(block.body.splitlines())
    played = Counter(found[(block.scene, block.step)])
    if shown == played:
        return None
    missing, new = list(shown - played), list(played - shown)
    return (
        f"lines the rehearsal no longer shows: {missing[:3]}; "
        f"lines it shows that the guide lacks: {new[:3]}"
    )


def rewrite(path: Path, found: dict[tuple[str, str], list[str]]) -> list[str]:
    """Write each block of ``path`` afresh; the steps it names that the rehearsal lacks."""
    unknown = []

    def fresh(match: re.Match[str]) -> str:
        key = (" ".join(match["scene"].split()), " ".join(match["step"].split()))
        if key not in found:
            unknown.append(f"{path.name}: {key[1]!r} ({key[0]!r})")
            return match.group(0)
        body = "".join(f"{line}\n" for line in found[key])
        return f"{match['open']}~~~text\n{body}~~~\n{match['close']}"

    path.write_text(_BLOCK.sub(fresh, path.read_text()))
    return unknown


def run_fast(
    cwd: Path = REPO, *, timeout: float | None = None, start_at: str = START_AT
) -> subprocess.CompletedProcess[str]:
    """One ``bot.py --demo --fast`` run from ``cwd`` as if it were ``start_at``, its output
    and errors together."""
    # The rehearsal makes its own database; settings meant for the tests must not reach it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACEDESK_")}
    return subprocess.run(  # noqa: S603 - our own bot.py, with our own interpreter
        [sys.executable, str(REPO / "bot.py"), "--demo", "--fast", "--start-at", start_at],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
        cwd=cwd, env=env, timeout=timeout,
    )


def play() -> str:
    """The timeline of one ``--fast`` rehearsal, at :data:`START_AT`."""
    done = run_fast()
    if done.returncode != 0:
        raise SystemExit(f"the rehearsal failed:\n{done.stdout[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal.excerpts",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only list the blocks that no longer match; exit 1 if any")
    options = parser.parse_args(argv)
    guides = sorted(DOCS.glob("*.md"))
    found = steps(play())
    if options.check:
        problems = [
            f"{b.path.name}: {b.step!r}: {why}"
            for b in blocks(guides) if (why := stale(b, found)) is not None
        ]
    else:
        problems = [problem for path in guides for problem in rewrite(path, found)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
