"""Push a tournament's schedule from a CSV file to RaceDesk's HTTP API.

    python push_schedule.py --url https://racedesk.example.org --tournament "Winter Cup" \\
        schedule.csv

The API token comes from the environment (``RACEDESK_API_TOKEN``; an organizer creates one
with ``/api-token create``), never from the command line, where other users of the machine
could read it. The file is the one ``/match import`` reads: a header row, then one match a
line, with the columns ``round``, ``players`` (separated by ``|`` or ``;``: Discord ids or
racetime.gg names of linked accounts), ``when`` (a time with its zone, e.g.
``2026-12-19 19:00 Europe/Berlin``), and optionally ``title``, ``goal``, ``key``,
``tournament``.

Each line is one ``POST /api/matches``: a new match is created, a match the schedule already
made (the same ``key``, or the same round and players) is updated or left as it is, so
running the script again after editing the sheet is safe. A refused line is printed with
why, and the script goes on; it exits with 1 if any line was refused. When RaceDesk asks it
to slow down (429), it waits as long as it is told.

Only the standard library, so it runs wherever Python 3.11 does (a cron job, a CI step).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

FIELDS = ("tournament", "round", "title", "goal", "key")


def lines_of(path: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, cells by lower-case column name) of each match in the file."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        header = file.readline()
        file.seek(0)
        delimiter = max(",;\t", key=header.count)
        reader = csv.DictReader(file, delimiter=delimiter)
        for number, row in enumerate(reader, start=2):
            cells = {(name or "").strip().lower(): (value or "").strip()
                     for name, value in row.items()}
            if any(cells.values()):
                yield number, cells


def body_of(cells: dict[str, str], tournament: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {name: cells[name] for name in FIELDS if cells.get(name)}
    body.setdefault("tournament", tournament or "")
    body["players"] = [p.strip() for p in re.split(r"[|;]", cells.get("players", "")) if p.strip()]
    body["when"] = cells.get("when", "")
    return body


def post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON; waits and tries again when the API says too many requests."""
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"--url must start with http:// or https://, not {url!r}")
    while True:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                time.sleep(int(error.headers.get("Retry-After", "5")))
                continue
            return error.code, json.load(error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Push a CSV schedule to RaceDesk.")
    parser.add_argument("file", help="the schedule, as CSV")
    parser.add_argument("--url", required=True, help="RaceDesk's web address")
    parser.add_argument("--tournament", help="the tournament (unless a column names it)")
    args = parser.parse_args(argv)
    token = os.environ.get("RACEDESK_API_TOKEN", "")
    if not token:
        print("Set RACEDESK_API_TOKEN to an API token (/api-token create).", file=sys.stderr)
        return 2
    endpoint = args.url.rstrip("/") + "/api/matches"
    refused = 0
    for number, cells in lines_of(args.file):
        status, answer = post(endpoint, token, body_of(cells, args.tournament))
        if status in (200, 201):
            match = answer["match"]
            print(f"line {number}: {answer['outcome']} match #{match['id']} ({match['title']})")
        else:
            refused += 1
            print(f"line {number}: refused ({status}): {answer.get('message')}")
            if status == 401:
                return 2  # every other line would be refused the same way
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
