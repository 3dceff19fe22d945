"""The check schedules' properties, walked check by check as collect's chain would take them."""

import itertools
import math

import pytest

from lassodrop.collect.backoff import CheckSchedule, ScheduleKind
from lassodrop.collect.config import MAX_STATUS_WATCH_SECONDS, CollectConfig
from lassodrop.jobs.store import CHECK_LEASE_SECONDS
from lassodrop.messages import SQS_MAX_DELAY_SECONDS
from lassodrop.runtime import ConfigError
from lassodrop_local.template import load_template

HOUR = 3600
DAY = 86_400
BASE_ENV = {
    "JOBS_TABLE": "jobs",
    "CHECK_QUEUE_URL": "http://127.0.0.1/queue",
    "API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:key",
    "OUTPUT_BUCKET": "out",
    "EVENT_BUS_NAME": "default",
    "AUDIOLASSO_BASE_URL": "https://audiolasso.dev/v1",
}


def check_ages(schedule: CheckSchedule, first_check_age: float = 0.0) -> list[float]:
    """The ages of every status read of a job that never ends, until the give-up age is reached."""
    age = first_check_age + schedule.watch_for(first_check_age)
    ages = [age]
    # Bounded: far more reads than any schedule here may take, so a runaway schedule fails instead of hanging.
    for checks_done in range(1, 10_000):
        if age >= schedule.give_up_after:
            return ages
        delay = schedule.next_delay(checks_done, age)
        assert isinstance(delay, int)
        assert 0 <= delay <= SQS_MAX_DELAY_SECONDS
        age += delay
        ages.append(age)
    raise AssertionError("the schedule never reached the give-up age")


def reads_until(ages: list[float], duration: float) -> int:
    """Status reads made up to and including the first one that finds a job of `duration` finished."""
    return next(index for index, age in enumerate(ages, start=1) if age >= duration)


def lag(ages: list[float], duration: float, watch_end: float) -> float:
    """Seconds from the job's end to the read that sees it (a watched job is seen as it ends)."""
    if duration <= watch_end:
        return 0.0
    return next(age for age in ages if age >= duration) - duration


def default_schedule(give_up_after: int = DAY) -> CheckSchedule:
    config = CollectConfig.from_env({**BASE_ENV, "GIVE_UP_AFTER_SECONDS": str(give_up_after)})
    return config.schedule


def test_the_default_is_the_growing_schedule_with_a_watch_of_240_seconds() -> None:
    schedule = default_schedule()

    assert (schedule.kind, schedule.watch_seconds, schedule.growth) == (ScheduleKind.GROWING, 240, 0.1)


def test_a_one_hour_job_is_seen_within_about_thirty_status_reads() -> None:
    ages = check_ages(default_schedule())

    # The first age is the watch (its reopened stream one read more), the last the read that sees the end.
    assert reads_until(ages, HOUR) + 1 <= 31


def test_most_jobs_are_seen_within_the_larger_of_5_seconds_and_10_percent_of_their_duration() -> None:
    schedule = default_schedule()
    ages = check_ages(schedule)
    # Durations spread evenly on a log scale from 10 s to 2 h.
    durations = [10 * math.exp(step * math.log(720) / 999) for step in range(1000)]

    shares = sorted(lag(ages, d, schedule.watch_seconds) / max(5.0, 0.1 * d) for d in durations)

    assert shares[int(0.95 * len(shares))] <= 1.0
    # And no job waits more than 10% of its age at the check before it finished.
    assert shares[-1] <= 1.0 + 1 / 10


@pytest.mark.parametrize("kind", list(ScheduleKind))
@pytest.mark.parametrize("give_up_after", [60, 299, 300, HOUR, DAY, 7 * DAY])
@pytest.mark.parametrize("growth", [0.05, 0.1, 0.5, 4.0])
def test_no_read_lands_past_the_give_up_age_and_every_wait_fits_sqs(
    kind: ScheduleKind, give_up_after: int, growth: float
) -> None:
    schedule = CheckSchedule(kind, give_up_after=give_up_after, growth=growth, watch_seconds=200)

    ages = check_ages(schedule)

    # The last read lands on the give-up age (SQS counts whole seconds, so within one of it), never later.
    assert ages[-1] <= give_up_after + 1
    assert all(later > earlier for earlier, later in itertools.pairwise(ages))


@pytest.mark.parametrize("give_up_after", [HOUR, DAY, 7 * DAY])
def test_reads_are_bounded_by_the_growth_then_by_the_900_second_cap(give_up_after: int) -> None:
    schedule = default_schedule(give_up_after)

    reads = len(check_ages(schedule))

    # Growth up to the age where 10% of it reaches the cap (9,000 s), then one read per 900 s.
    growing = math.log(min(give_up_after, 9000) / 240) / math.log(1.1) + 1
    capped = max(0, give_up_after - 9000) / SQS_MAX_DELAY_SECONDS
    assert reads <= math.ceil(growing + capped) + 2


def test_the_doubling_schedule_keeps_the_webhook_backstop_as_cheap_as_before() -> None:
    schedule = CheckSchedule(ScheduleKind.DOUBLING, give_up_after=DAY, first=30)

    delays = [schedule.next_delay(checks, age=0) for checks in range(8)]

    assert delays == [30, 60, 120, 240, 480, 900, 900, 900]
    assert schedule.watch_for(0) == 0


def test_the_watch_ends_at_its_age_and_at_the_give_up_age() -> None:
    schedule = CheckSchedule(ScheduleKind.GROWING, give_up_after=150, watch_seconds=200)

    assert (schedule.watch_for(0), schedule.watch_for(120), schedule.watch_for(150)) == (150, 30, 0)


def test_a_watch_ends_before_its_check_lease_and_well_before_collects_timeout() -> None:
    template = load_template()
    collect = template["Resources"]["CollectFunction"]["Properties"]
    allowed = template["Parameters"]["StatusWatchSeconds"]

    assert allowed["MaxValue"] <= MAX_STATUS_WATCH_SECONDS
    # The claimed link stays ours for the whole watch, so no copy of it reads meanwhile.
    assert MAX_STATUS_WATCH_SECONDS + 30 <= CHECK_LEASE_SECONDS
    # The watch never copies outputs itself (a fresh invocation does), but it must end inside the Timeout.
    assert collect["Timeout"] >= MAX_STATUS_WATCH_SECONDS + 30


@pytest.mark.parametrize(
    ("name", "value"),
    [("CHECK_SCHEDULE", "fibonacci"), ("CHECK_GROWTH_PERCENT", "0"), ("STATUS_WATCH_SECONDS", "241")],
)
def test_a_malformed_schedule_setting_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        CollectConfig.from_env({**BASE_ENV, name: value})
