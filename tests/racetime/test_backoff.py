from racetime.backoff import Backoff


def test_the_first_retry_comes_within_a_second_and_later_ones_back_off_to_the_cap() -> None:
    backoff = Backoff()
    first = [backoff.delay(0) for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in first)
    assert len({round(d, 6) for d in first}) > 100, "jitter spreads reconnects"
    assert all(2.0 <= backoff.delay(2) <= 4.0 for _ in range(50))
    assert all(30.0 <= backoff.delay(50) <= 60.0 for _ in range(50))


def test_no_jitter_gives_the_plain_exponential() -> None:
    backoff = Backoff(base=0.1, factor=3.0, cap=1.0, jitter=0.0)
    assert [round(backoff.delay(n), 6) for n in range(4)] == [0.1, 0.3, 0.9, 1.0]
