"""Backoff between attempts of a contended write: exponential, jittered, bounded, never before
the first attempt."""

from kb_ingest.dal.retry import CAP_SECONDS, MAX_ATTEMPTS, backoff_seconds, contended_attempts


def test_a_write_that_succeeds_at_once_never_sleeps():
    slept: list[float] = []
    for attempt in contended_attempts(sleep=slept.append, rand=lambda: 0.999):
        assert attempt == 1
        break
    assert slept == []


def test_retries_sleep_a_jittered_exponential_time_up_to_the_cap():
    slept: list[float] = []
    attempts = list(contended_attempts(sleep=slept.append, rand=lambda: 0.5))
    assert attempts == list(range(1, MAX_ATTEMPTS + 1))
    assert len(slept) == MAX_ATTEMPTS - 1
    assert slept[:3] == [0.005, 0.01, 0.02]  # half of 10 ms, 20 ms, 40 ms
    assert max(slept) == CAP_SECONDS / 2
    assert sum(backoff_seconds(n, draw=1.0) for n in range(1, MAX_ATTEMPTS)) < 5  # bounded in all


def test_jitter_spreads_racing_writers():
    draws = iter([0.0, 0.9, 0.3])
    slept: list[float] = []
    attempts = list(contended_attempts(4, sleep=slept.append, rand=lambda: next(draws)))
    assert attempts == [1, 2, 3, 4]
    assert slept == [0.0, 0.9 * 0.02, 0.3 * 0.04]
