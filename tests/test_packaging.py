"""The installed package is RaceDesk alone: the developer tools (the fake racetime server, the
fake alttpr.com, the rehearsal, the benchmarks, the tests) stay in the repository."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages

REPO = Path(__file__).resolve().parent.parent
DEVELOPER_TOOLS = ("fake_racetime", "fake_alttpr", "rehearsal", "bench", "tests")


def installed_packages() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    found = config["tool"]["setuptools"]["packages"]["find"]
    return find_packages(
        str(REPO), include=found.get("include", ["*"]), exclude=found.get("exclude", ())
    )


def test_the_package_holds_racedesk_and_no_developer_tool() -> None:
    packages = installed_packages()
    assert {"cli", "cogs", "core", "db", "racetime", "web"} <= set(packages)
    shipped_tools = [p for p in packages if p.split(".")[0] in DEVELOPER_TOOLS]
    assert shipped_tools == []


def test_every_package_of_racedesk_is_shipped() -> None:
    """A new package under an installed one (a capability in core/, say) is not left out."""
    installed = set(installed_packages())
    tops = ("cli", "cogs", "core", "db", "racetime", "web")
    in_repo = {
        p for p in find_namespace_packages(str(REPO), include=[f"{t}*" for t in tops])
        if "__pycache__" not in p and (REPO / p.replace(".", "/") / "__init__.py").exists()
    }
    assert in_repo - installed == set()
