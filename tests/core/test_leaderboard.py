"""Async leaderboards' ranking (issue 26), pure: the score from par, pars from the runs when
a seed has none, best run per seed, totals per pool and overall, shared ranks on ties, and
live race finishes counted as runs of their pool."""

from __future__ import annotations

from datetime import timedelta

from core.live_races.leaderboard import CountedRun, Standing, pars, score, standings

H = timedelta(hours=1)
M = timedelta(minutes=1)


def run(player: int, time: timedelta, *, pool: str = "A", key: str = "seed:1",
        par: timedelta | None = H, live: bool = False) -> CountedRun:
    return CountedRun(player, pool, key, time, par, live)


def test_score_is_100_at_par_and_clamped_to_0_and_105() -> None:
    assert score(H, H) == 100.0
    assert score(90 * M, H) == 50.0
    assert score(2 * H, H) == 0.0
    assert score(3 * H, H) == 0.0
    assert score(54 * M, H) == 105.0  # 110 before the clamp
    assert score(57 * M, H) == 105.0
    assert score(61 * M, H) == 98.33


def test_a_seed_without_par_has_the_mean_of_its_times() -> None:
    runs = [run(1, 50 * M, par=None), run(2, 70 * M, par=None), run(3, 2 * H, key="seed:2")]
    assert pars(runs) == {"seed:1": H, "seed:2": H}


def test_best_run_per_seed_totals_over_seeds_and_ties_share_a_rank() -> None:
    runs = [
        run(1, H), run(1, 90 * M),  # a re-attempt: the best counts (100)
        run(1, 90 * M, key="seed:2"),  # 50
        run(2, 90 * M), run(2, H, key="seed:2"),  # 50 + 100 = 150: tied with player 1
        run(3, H),  # 100
        run(4, 3 * H),  # 0
    ]
    assert standings(runs) == [
        Standing(1, 1, 150.0, 2), Standing(1, 2, 150.0, 2), Standing(3, 3, 100.0, 1),
        Standing(4, 4, 0.0, 1),
    ]


def test_per_pool_and_overall() -> None:
    runs = [
        run(1, H, pool="A"), run(2, 90 * M, pool="A"),
        run(2, H, pool="B", key="seed:9"),
    ]
    assert standings(runs, "A") == [Standing(1, 1, 100.0, 1), Standing(2, 2, 50.0, 1)]
    assert standings(runs, "B") == [Standing(1, 2, 100.0, 1)]
    assert standings(runs) == [Standing(1, 2, 150.0, 2), Standing(2, 1, 100.0, 1)]
    assert standings(runs, "C") == []


def test_live_race_finishes_count_as_runs_of_their_pool() -> None:
    runs = [
        run(1, H),
        run(1, 66 * M, key="live:1", par=H, live=True),  # the pool's seeds' par: 90
        run(2, 80 * M, key="live:1", par=None, live=True),
        run(3, 40 * M, key="live:2", pool="B", par=None, live=True),  # par from its times
    ]
    assert standings(runs, "A") == [Standing(1, 1, 190.0, 2), Standing(2, 2, 66.67, 1)]
    assert standings(runs, "B") == [Standing(1, 3, 100.0, 1)]
