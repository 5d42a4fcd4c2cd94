"""Backoff between attempts of a contended write: exponential, jittered, bounded, never before
the first attempt."""

from kb_ingest.dal.retry import BUDGET_SECONDS, CAP_SECONDS, MAX_ATTEMPTS, contended_attempts


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


def test_writers_give_up_when_the_time_budget_is_spent_not_after_a_fixed_count():
    now = [0.0]

    def slow_attempt_sleep(seconds: float) -> None:
        now[0] += seconds + 1.0  # each attempt takes a second on a busy table

    attempts = list(contended_attempts(sleep=slow_attempt_sleep, rand=lambda: 0.5, clock=lambda: now[0]))
    assert 1 < len(attempts) < MAX_ATTEMPTS
    assert now[0] >= BUDGET_SECONDS
    assert now[0] < BUDGET_SECONDS + 1.0 + CAP_SECONDS  # no attempt starts after the budget


def test_jitter_spreads_racing_writers():
    draws = iter([0.0, 0.9, 0.3])
    slept: list[float] = []
    attempts = list(contended_attempts(4, sleep=slept.append, rand=lambda: next(draws)))
    assert attempts == [1, 2, 3, 4]
    assert slept == [0.0, 0.9 * 0.02, 0.3 * 0.04]
