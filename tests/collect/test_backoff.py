from datetime import UTC, datetime, timedelta

from lassodrop.collect.backoff import delay_within_deadline, next_check_delay, seconds_left


def test_delay_doubles_from_thirty_seconds_and_stops_at_the_cap() -> None:
    delays = [next_check_delay(checks, first=30, cap=900) for checks in range(8)]

    assert delays == [30, 60, 120, 240, 480, 900, 900, 900]


def test_very_old_job_still_gets_the_cap() -> None:
    assert next_check_delay(10_000, first=30, cap=900) == 900


def test_delay_is_shortened_so_the_last_check_lands_on_the_give_up_age() -> None:
    submitted = datetime(2025, 1, 1, tzinfo=UTC)
    left = seconds_left(submitted, submitted + timedelta(seconds=3500), 3600)

    assert delay_within_deadline(900, left) == 101
