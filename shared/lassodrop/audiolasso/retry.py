"""Bounded retries with exponential backoff, a cap and jitter; `_sleep` is the one place the client waits."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lassodrop.audiolasso.errors import AudioLassoError

_log = logging.getLogger(__name__)
_random = random.SystemRandom()

T = TypeVar("T")


def _sleep(seconds: float) -> None:
    """Every client delay goes through here, so tests patch this one function to zero."""
    time.sleep(seconds)


def is_retryable(error: AudioLassoError) -> bool:
    """The default for reads: `error.retryable`, which reads `classify`."""
    return error.retryable


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` repeats after the first attempt; a Retry-After over `max_retry_after` is not waited."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retry: int, error: AudioLassoError) -> float | None:
        """Seconds to wait before retry number `retry` (from 0), or None to give up now."""
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        return ceiling / 2 + _random.uniform(0, ceiling / 2)

    def next_wait(
        self, retry: int, error: AudioLassoError, should_retry: Callable[[AudioLassoError], bool]
    ) -> float | None:
        if retry >= self.max_retries or not should_retry(error):
            return None
        return self.delay(retry, error)


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    should_retry: Callable[[AudioLassoError], bool] = is_retryable,
) -> T:
    """Run `call`, repeating it on errors `should_retry` accepts, within the policy's bounds."""
    retry = 0
    while True:
        try:
            return call()
        except AudioLassoError as error:
            wait_before_retry(policy, retry, error, what=what, should_retry=should_retry)
            retry += 1


def wait_before_retry(
    policy: RetryPolicy,
    retry: int,
    error: AudioLassoError,
    *,
    what: str,
    should_retry: Callable[[AudioLassoError], bool] = is_retryable,
) -> None:
    """Sleep before retry number `retry` (from 0), or re-raise `error` when the policy says stop."""
    wait = policy.next_wait(retry, error, should_retry)
    if wait is None:
        raise error
    _log.debug("retrying %s in %.2fs (retry %d) after: %s", what, wait, retry + 1, error)
    _sleep(wait)
