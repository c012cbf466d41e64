"""What a process is (issue 27), over real HTTP: ``/healthz`` (liveness) and ``/readyz``
(readiness) for a process running alone, a standby and a leader; a standby answers nothing
else; ``/metrics`` says whether it leads and under which epoch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.leadership import Leadership
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.core.leadership_helpers import TIMINGS, JumpingClock, leader, until
from tests.web.scene import ApiScene, api_scene


@pytest.fixture
async def scene(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer
) -> AsyncIterator[ApiScene]:
    async with api_scene(db_url, secret_box, fake_racetime) as scene:
        yield scene


async def leadership_gauges(scene: ApiScene) -> dict[str, float]:
    async with scene.http.get(scene.url("/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("racedesk_leader")
    }


def checks_of(body: dict[str, object]) -> dict[str, tuple[bool, str]]:
    checks = body["checks"]
    assert isinstance(checks, list)
    return {check["name"]: (check["ok"], check["detail"]) for check in checks}


async def test_a_process_running_alone_is_single_and_ready(scene: ApiScene) -> None:
    status, body, _ = await scene.call("GET", "/healthz", headers={})
    assert (status, body["status"], body["role"], body["epoch"]) == (200, "ok", "single", None)
    assert "Leader lease" not in checks_of(body)

    status, body, _ = await scene.call("GET", "/readyz", headers={})
    assert (status, body) == (200, {"ready": True, "role": "single", "epoch": None,
                                    "leader": None})
    assert await leadership_gauges(scene) == {"racedesk_leader": 1.0}


@pytest.mark.postgres
async def test_a_standby_is_alive_but_not_ready_and_serves_nothing_else(
    scene: ApiScene, db_url: str
) -> None:
    async with leader(db_url) as other:
        standby = Leadership(db_url, clock=JumpingClock(), timings=TIMINGS)
        scene.services.leadership = standby
        try:
            assert not await standby.try_acquire()  # the other process leads

            status, body, _ = await scene.call("GET", "/healthz", headers={})
            assert (status, body["status"], body["role"], body["epoch"]) == (
                200, "ok", "standby", other.epoch
            )
            assert checks_of(body) == {
                "Database": (True, "postgresql reachable"),
                "Leader lease": (True, f"standing by; {other.holder_name} leads (epoch 1)"),
            }
            # Not ready, whatever Discord does: it is the leader's.
            scene.discord_up[0] = False
            status, body, _ = await scene.call("GET", "/readyz", headers={})
            assert (status, body) == (503, {"ready": False, "role": "standby", "epoch": 1,
                                            "leader": other.holder_name})

            status, body, headers = await scene.call("GET", scene.room_path())
            assert (status, body["error"], headers["Retry-After"]) == (503, "standby", "1")
            assert "the leader answers" in body["message"]
            assert await leadership_gauges(scene) == {
                "racedesk_leader": 0.0, "racedesk_leader_epoch": 1.0,
            }

            # The leader hands over: this process leads under the next epoch, and is ready
            # for traffic once its parts have started.
            await other.release()
            await until(standby.try_acquire)
            scene.discord_up[0] = True
            status, body, _ = await scene.call("GET", "/readyz", headers={})
            assert (status, body["ready"], body["role"], body["epoch"]) == (
                503, False, "leader", 2
            )
            status, body, _ = await scene.call("GET", "/healthz", headers={})
            assert checks_of(body)["Leader lease"] == (True, "leads (epoch 2); starting its parts")
            status, body, headers = await scene.call("GET", scene.room_path())
            assert (status, body["error"], headers["Retry-After"]) == (503, "starting", "1")
            assert "is starting" in body["message"]
            assert (await leadership_gauges(scene))["racedesk_leader"] == 0.0

            standby.started()
            status, body, _ = await scene.call("GET", "/readyz", headers={})
            assert (status, body["role"], body["epoch"]) == (200, "leader", 2)
            status, body, _ = await scene.call("GET", "/healthz", headers={})
            assert (status, body["role"]) == (200, "leader")
            assert checks_of(body)["Leader lease"] == (True, "leads (epoch 2)")
            assert "Discord" in checks_of(body)
            status, _, _ = await scene.call("GET", scene.room_path())
            assert status != 503
            assert await leadership_gauges(scene) == {
                "racedesk_leader": 1.0, "racedesk_leader_epoch": 2.0,
            }
        finally:
            scene.services.leadership = None
            await standby.release()
