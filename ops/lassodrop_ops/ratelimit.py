"""A token bucket: at most `rate` sends a second on average, bursts of up to `burst`.

Written here because the project's dependencies have none for plain synchronous code (boto3's own rate
limiting adapts to throttling answers; it does not cap a rate chosen up front).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.burst = rate, max(burst, 1.0)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> None:
        """Wait (once, for exactly the shortfall) until a token is there, then take it."""
        self._refill()
        if self._tokens < 1:
            self._sleep((1 - self._tokens) / self.rate)
            self._refill()
        self._tokens = max(self._tokens - 1, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
