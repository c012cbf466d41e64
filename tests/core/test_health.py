from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import create_async_engine

from core.events import EventDispatcher
from core.health import HealthService
from core.racetime_bots.status import BotCounts


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def now(self) -> datetime:
        return self.value


async def test_report_is_healthy_with_a_reachable_database(db_engine) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(datetime(2026, 11, 24, 12, tzinfo=UTC))
    health = HealthService(
        engine=db_engine, dispatcher=EventDispatcher(), clock=clock, version="1.2.3"
    )
    clock.value += timedelta(hours=2, seconds=5)
    report = await health.report()
    assert report.healthy
    assert report.version == "1.2.3"
    assert report.uptime == timedelta(hours=2, seconds=5)
    assert [c.name for c in report.checks] == ["Database", "Events"]


async def test_an_unreachable_database_is_reported_not_raised() -> None:
    # Port 1 on loopback refuses connections at once.
    engine = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/racedesk")
    health = HealthService(
        engine=engine,
        dispatcher=EventDispatcher(),
        clock=FixedClock(datetime.now(UTC)),
        version="x",
    )
    report = await health.report()
    await engine.dispose()
    assert not report.healthy
    database = report.checks[0]
    assert not database.ok and database.detail.startswith("unreachable")


async def test_racetime_bot_health_is_part_of_the_report(db_engine) -> None:  # type: ignore[no-untyped-def]
    async def counts() -> BotCounts:
        return BotCounts(active=3, unhealthy=1, stopped=0)

    async def stopped() -> BotCounts:
        return BotCounts(active=1, unhealthy=0, stopped=1)

    async def all_stopped() -> BotCounts:
        return BotCounts(active=0, unhealthy=0, stopped=2)

    async def broken() -> BotCounts:
        raise ConnectionError("db down")

    def service(bot_counts):  # type: ignore[no-untyped-def]
        return HealthService(
            engine=db_engine,
            dispatcher=EventDispatcher(),
            clock=FixedClock(datetime.now(UTC)),
            version="x",
            bot_counts=bot_counts,
        )

    report = await service(counts).report()
    bots = report.checks[-1]
    assert (bots.name, bots.ok, bots.detail) == ("racetime bots", False, "2/3 healthy")
    assert not report.healthy
    unknown = (await service(broken).report()).checks[-1]
    assert not unknown.ok and unknown.detail == "status unknown"
    one_stopped = (await service(stopped).report()).checks[-1]
    assert one_stopped.ok and one_stopped.detail == "1/1 healthy, 1 stopped by an owner"
    none_running = (await service(all_stopped).report()).checks[-1]
    assert none_running.ok and none_running.detail == "2 stopped by an owner"
