"""Attempts of a write that can lose a race, with exponential backoff and full jitter between them.

A transaction cancelled for `TransactionConflict`, or a conditional write that found the item
changed since it was read, is tried again after reading the item afresh. Retrying at once makes
the writers that collided collide again; each retry here first sleeps a random time in
[0, min(cap, base * 2**retry)) ("full jitter", from AWS's Architecture Blog, "Exponential Backoff
And Jitter"), so racing writers spread out and the total wait stays bounded. botocore's own
retries do not cover these: a cancelled transaction is an answer, not a transient error, and
their backoff starts at a second.

    for _ in contended_attempts():
        try:
            ...write...
        except TransactionCancelled:
            ...read again...
            continue
        return result
    raise RuntimeError("too much contention")
"""

import random
import time
from collections.abc import Callable, Iterator

MAX_ATTEMPTS = 100
BASE_SECONDS = 0.01
CAP_SECONDS = 0.25
# Writers give up after this long, however many attempts that was: well inside an API function's
# 29 s. A count alone is not enough: with five writers renaming one dataset each attempt wins one
# time in five, and when attempts are slow (a busy machine, a throttled table) twenty of them
# lost about one request in a hundred.
BUDGET_SECONDS = 12.0


def backoff_seconds(retry: int, *, base: float = BASE_SECONDS, cap: float = CAP_SECONDS, draw: float) -> float:
    """The sleep before retry number `retry` (1 for the first retry), for a draw in [0, 1)."""
    return draw * min(cap, base * 2 ** (retry - 1))


def contended_attempts(
    max_attempts: int = MAX_ATTEMPTS,
    *,
    budget_seconds: float = BUDGET_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[int]:
    """Attempt numbers 1..max_attempts while the budget lasts; sleeps with full jitter before every
    attempt but the first (only when the loop goes on, so a write that succeeds never waits)."""
    started = clock()
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            if clock() - started >= budget_seconds:
                return
            sleep(backoff_seconds(attempt - 1, draw=rand()))
        yield attempt
