"""The running RaceDesk version."""

from __future__ import annotations

from importlib import metadata


def racedesk_version() -> str:
    try:
        return metadata.version("racedesk")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"
