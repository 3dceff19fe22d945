"""When to look at a job again, and when to stop looking."""

from __future__ import annotations

from datetime import datetime


def next_check_delay(checks_done: int, *, first: int, cap: int) -> int:
    """Delay before the next status read: `first` seconds, doubling per check already made, capped.

    `checks_done` counts the reads before this one, so the re-enqueue after the first read waits `first`.
    """
    if checks_done < 0:
        raise ValueError("checks_done cannot be negative")
    # Bound the exponent so a long-lived job cannot build a huge integer before the cap applies.
    return min(cap, first * 2 ** min(checks_done, 32))


def seconds_left(submitted_at: datetime, now: datetime, give_up_after: int) -> float:
    """Seconds until the job's give-up age; zero or less means give up now."""
    return give_up_after - (now - submitted_at).total_seconds()


def delay_within_deadline(delay: int, left: float) -> int:
    """Never sleep past the give-up age: the last check lands on it (SQS wants whole seconds >= 0)."""
    return max(0, min(delay, int(left) + 1))
