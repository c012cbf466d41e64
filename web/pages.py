"""Public pages as HTML: the Jinja2 templates in ``web/templates/`` (package data), escaped by
default, so a tournament or player name is always text, never markup.

A page reads without JavaScript: every time is written in UTC with its exact instant in the
``datetime`` attribute of a ``<time>``. One small inline script (``local_times.js``) then
rewrites each time in the reader's own timezone; the Content-Security-Policy allows that
script by its hash and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from core.pages import AsyncPage, ServerIndex, TournamentPage
from core.times.formatting import MONTHS, WEEKDAYS

_SCRIPT = resources.files("web").joinpath("templates/local_times.js").read_text("utf-8")
SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{SCRIPT_HASH}'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def utc_words(when: datetime) -> str:
    """``Sat 5 Dec 2026, 19:00 UTC``: English names whatever the machine's locale."""
    at = when.astimezone(UTC)
    return (
        f"{WEEKDAYS[at.weekday()][:3]} {at.day} {MONTHS[at.month - 1][:3]} {at.year}, "
        f"{at:%H:%M} UTC"
    )


def iso_utc(when: datetime) -> str:
    """``2026-12-05T19:00:00Z``: the ``datetime`` attribute a browser reads."""
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def race_time(value: timedelta) -> str:
    """``1:23:45`` (tenths dropped, as racetime shows a finish at a glance)."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("web", "templates"),
        autoescape=True,  # every template, whatever its name: names are people's text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(utc_words=utc_words, iso_utc=iso_utc, race_time=race_time)
    environment.globals["local_times_script"] = Markup(_SCRIPT)  # noqa: S704 (our own file)
    return environment


ENVIRONMENT = _environment()


def tournament_html(page: TournamentPage) -> str:
    return ENVIRONMENT.get_template("tournament.html").render(page=page)


def async_html(page: AsyncPage) -> str:
    return ENVIRONMENT.get_template("async.html").render(page=page)


def index_html(index: ServerIndex) -> str:
    return ENVIRONMENT.get_template("index.html").render(index=index)


def not_found_html() -> str:
    return ENVIRONMENT.get_template("not_found.html").render()
