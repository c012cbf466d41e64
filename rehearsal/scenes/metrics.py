"""Prometheus' view: ``/metrics`` is fetched from RaceDesk's web server and a few of its
series shown, each having moved with what the earlier scenes did."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from rehearsal.stage import Scene, Stage

TOP_EVENT_TYPES = 3


def line(sample: Sample) -> str:
    labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}} {sample.value:g}"


def find(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    wanted = set(labels.items())
    return [s for s in samples if s.name == name and wanted <= set(s.labels.items())]


async def play(stage: Stage) -> None:
    category = stage.cast.category
    async with stage.step("/metrics is fetched and a few of its series shown"):
        url = f"{stage.web_url}/metrics"
        stage.timeline.line("Prometheus", f"GET {url}")
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            if answer.status != 200:
                raise stage.fail("200 from /metrics", f"HTTP {answer.status}")
            text = await answer.text()
        samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]
        events = sorted(
            find(samples, "racedesk_events_dispatched_total"), key=lambda s: -s.value
        )[:TOP_EVENT_TYPES]
        shown = {
            "the bot is connected": find(
                samples, "racedesk_racetime_bot_status", category=category, status="connected"
            ),
            "race.data frames read": find(
                samples, "racedesk_racetime_frames_total", category=category, type="race.data"
            ),
            "rooms opened on racetime": find(
                samples, "racedesk_racetime_http_requests_total",
                endpoint="/o/{category}/startrace", status="201",
            ),
            "scheduled rooms opened": find(
                samples, "racedesk_room_open_lateness_seconds_count", category=category
            ),
            "DMs sent": find(samples, "racedesk_notification_deliveries_total", status="sent"),
            "events delivered": events,
        }
        missing = [what for what, found in shown.items() if not any(s.value for s in found)]
        if missing:
            raise stage.fail(
                "series that moved with the earlier scenes",
                f"nothing yet for {', '.join(missing)}",
            )
        stage.timeline.line(
            "RaceDesk", f"→ 200: {len(samples)} samples; among them:",
            [line(sample) for found in shown.values() for sample in found],
        )
        await stage.pause()


SCENE = Scene("Prometheus scrapes /metrics", play)
