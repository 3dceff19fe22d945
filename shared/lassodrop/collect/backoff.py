"""When to look at a job again, and when to stop looking.

Two schedules, chosen by CHECK_SCHEDULE (template.yaml picks one from EnableWebhooks):

`growing`, without webhooks. The time from the provider's COMPLETED to our next look is the lag; the aim is
max(5 s, 10% of the job's duration) for most jobs, and about 30 status reads for a one-hour job.
- A check at age `a` that waits `g * a` before the next bounds the lag of a job finishing in between by
  `g * a`, less than `g` times that job's duration: the lag stays a fixed share of the job however long it
  runs, and from age `a0` to one hour that takes ln(3600 / a0) / ln(1 + g) reads.
- With g = 0.1 and a first check at 30 s that is 50 reads, and the 5 s floor of short jobs costs more: short
  jobs cannot be polled cheaply. So the first check follows the status stream (SSE) instead: one connection,
  held until the job ends or its age reaches STATUS_WATCH_SECONDS (240 s). Jobs that end in that time are
  seen at once, and polling starts at 240 s: ln(15) / ln(1.1), 29 reads for an hour, 31 with the watch.
- The price is Lambda time: a job that outlives the watch holds collect for 240 s (120 GB-s at 512 MB),
  against well under 1 GB-s for a dozen plain reads. `make bench` reports both; STATUS_WATCH_SECONDS=0 turns
  the watch off (then polls start at FIRST_CHECK_DELAY_SECONDS: more reads, no invocation held).

`doubling`, with webhooks. The webhook brings the check at completion; polls are only the backstop for a lost
webhook, so they are as few as possible: `first` seconds, doubling per check, capped (8 reads for an hour).

Either way the wait is a whole number of seconds within SQS's 900 s delay, and never past the give-up age.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lassodrop.messages import SQS_MAX_DELAY_SECONDS

# The shortest wait between two reads of the growing schedule: the lag goal allows 5 s for any job.
MIN_CHECK_DELAY_SECONDS = 5


class ScheduleKind(StrEnum):
    GROWING = "growing"
    DOUBLING = "doubling"


@dataclass(frozen=True)
class CheckSchedule:
    """How far apart a job's status reads are; every value in seconds except `growth` (a share of the age)."""

    kind: ScheduleKind
    give_up_after: int
    first: int = 30
    growth: float = 0.1
    watch_seconds: int = 0
    cap: int = SQS_MAX_DELAY_SECONDS

    def __post_init__(self) -> None:
        if not 1 <= self.cap <= SQS_MAX_DELAY_SECONDS:
            raise ValueError(f"cap must be between 1 and {SQS_MAX_DELAY_SECONDS} s, got {self.cap}")
        if not 0 < self.growth <= 4:
            raise ValueError(f"growth must be above 0 and at most 4, got {self.growth}")
        if self.first < 1 or self.watch_seconds < 0 or self.give_up_after < 1:
            raise ValueError("first and give_up_after must be positive, watch_seconds not negative")

    def watch_for(self, age: float) -> float:
        """Seconds a check made at `age` follows the status stream; 0 means one plain status read."""
        if self.kind is not ScheduleKind.GROWING:
            return 0.0
        return max(0.0, min(self.watch_seconds, self.give_up_after) - age)

    def next_delay(self, checks_done: int, age: float) -> int:
        """Seconds from a check that found the job unfinished, at `age`, to the next one.

        `checks_done` counts the reads before this one (the doubling schedule's exponent).
        """
        if checks_done < 0 or age < 0:
            raise ValueError("checks_done and age cannot be negative")
        if self.kind is ScheduleKind.GROWING:
            wanted = max(MIN_CHECK_DELAY_SECONDS, math.ceil(self.growth * age))
        else:
            wanted = next_check_delay(checks_done, first=self.first, cap=self.cap)
        return delay_within_deadline(min(self.cap, wanted), self.give_up_after - age)


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
