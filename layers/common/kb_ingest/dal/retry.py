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

MAX_ATTEMPTS = 20
BASE_SECONDS = 0.01
CAP_SECONDS = 0.25  # worst case about 4 s over 20 attempts, well inside an API function's timeout


def backoff_seconds(retry: int, *, base: float = BASE_SECONDS, cap: float = CAP_SECONDS, draw: float) -> float:
    """The sleep before retry number `retry` (1 for the first retry), for a draw in [0, 1)."""
    return draw * min(cap, base * 2 ** (retry - 1))


def contended_attempts(
    max_attempts: int = MAX_ATTEMPTS,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> Iterator[int]:
    """Attempt numbers 1..max_attempts; sleeps with full jitter before every attempt but the first
    (only when the loop goes on, so a write that succeeds never waits)."""
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            sleep(backoff_seconds(attempt - 1, draw=rand()))
        yield attempt
