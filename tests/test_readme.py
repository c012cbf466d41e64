"""The README stands on its own in a clone: its links stay inside the repository and reach
files (and headings) that are there, and every ``bot.py`` command it or the admins' guide
shows is one ``bot.py`` accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cli.arguments import parse_args

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
GUIDES = sorted((REPO / "docs").glob("*.md"))
# [text](target): inline links; <scheme:...> autolinks leave the repository by design.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_FENCED = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"`([^`]+)`")
# In a piece of code: bot.py and its arguments, up to a comment; make run ARGS="...".
_BOT_COMMAND = re.compile(r"bot\.py((?:\s+[^\s#]+)*)")
_MAKE_RUN = re.compile(r'make run ARGS="([^"]*)"|make run ARGS=(\S+)')


def local_links(markdown: Path) -> list[str]:
    return [
        target for target in _LINK.findall(markdown.read_text())
        if not _SCHEME.match(target)
    ]


def heading_anchors(markdown: Path) -> set[str]:
    """GitHub's anchors for the headings of ``markdown``."""
    anchors = set()
    for line in markdown.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def broken(markdown: Path, target: str) -> str | None:
    """Why ``target``, linked from ``markdown``, does not resolve in this checkout."""
    path, _, anchor = target.partition("#")
    file = (markdown.parent / path).resolve() if path else markdown
    if not file.is_relative_to(REPO):
        return "leaves the repository"
    if not file.exists():
        return "does not exist"
    if anchor and file.suffix == ".md" and anchor not in heading_anchors(file):
        return f"has no heading #{anchor}"
    return None


def test_the_readme_links_only_inside_the_repository() -> None:
    links = local_links(README)
    assert len(links) >= 10, links
    assert [link for link in links if "../" in link] == []
    assert "../" not in README.read_text(), "a path outside the clone"
    problems = {link: broken(README, link) for link in links if broken(README, link)}
    assert problems == {}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_the_guides_link_only_to_what_is_in_the_repository(guide: Path) -> None:
    problems = {link: broken(guide, link) for link in local_links(guide) if broken(guide, link)}
    assert problems == {}


def test_a_broken_link_is_noticed(tmp_path: Path) -> None:
    assert broken(README, "docs/admins.md#backups") is None
    assert broken(README, "docs/admins.md#no-such-heading") == "has no heading #no-such-heading"
    assert broken(README, "docs/nothing.md") == "does not exist"
    assert broken(README, "../shared/DESIGN.md") == "leaves the repository"


def code_pieces(text: str) -> list[str]:
    """Each line of a fenced block (a trailing backslash joins the next line) and each inline
    code span (which may wrap onto the next line), as one line each."""
    pieces = []
    for _, body in _FENCED.findall(text):
        pieces += body.replace("\\\n", " ").splitlines()
    pieces += [span.replace("\n", " ") for span in _INLINE.findall(_FENCED.sub("", text))]
    return pieces


def shown_commands(markdown: Path) -> list[list[str]]:
    """The arguments of every ``bot.py`` command ``markdown`` shows, with ``[--option]``
    read as given and placeholders (FILE, PATH) as they are."""
    found = []
    for piece in code_pieces(markdown.read_text()):
        found += [match.group(1) for match in _BOT_COMMAND.finditer(piece)]
        found += [quoted or bare for quoted, bare in _MAKE_RUN.findall(piece)]
    commands = []
    for arguments in found:
        # $(date +%F) is one word to the shell.
        arguments = re.sub(r"\$\([^)]*\)", "WORD", arguments)
        words = shlex.split(arguments.replace("[", " ").replace("]", " "))
        if "..." not in words and "…" not in words:
            commands.append(words)
    return commands


@pytest.mark.parametrize("markdown", [README, REPO / "docs" / "admins.md"], ids=lambda p: p.name)
def test_every_bot_py_command_shown_is_accepted(
    markdown: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = shown_commands(markdown)
    assert len(commands) >= 8, commands
    refused = []
    for words in commands:
        try:
            parse_args(words)
        except SystemExit:
            refused.append(" ".join(words))
    assert refused == [], capsys.readouterr().err
