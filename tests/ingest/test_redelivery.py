"""Transient trouble comes back in minutes: the delay schedule, and how a failure is named."""

import pytest
import requests

from lassodrop.audiolasso.errors import (
    BadRequestError,
    ConnectionFailedError,
    ServerError,
    UpstreamError,
)
from lassodrop.ingest.service import RecordsFailedError
from lassodrop.jobs import ConcurrentChangeError
from lassodrop.redelivery import (
    RETRY_MAX_DELAY_SECONDS,
    SQS_MAX_VISIBILITY_SECONDS,
    RetrySchedule,
    Trouble,
    retry_delay,
    transient_trouble,
)
from lassodrop.runtime import ConfigError


def test_the_delay_starts_at_30_s_doubles_per_receive_and_stops_at_15_min() -> None:
    assert [retry_delay(count) for count in range(1, 9)] == [30, 60, 120, 240, 480, 900, 900, 900]
    assert RETRY_MAX_DELAY_SECONDS == 900


@pytest.mark.parametrize("count", [0, 1, 40, 10_000, 2**40])
def test_the_delay_is_never_above_the_cap_nor_sqs_visibility_maximum(count: int) -> None:
    delay = retry_delay(count)

    assert 30 <= delay <= RETRY_MAX_DELAY_SECONDS <= SQS_MAX_VISIBILITY_SECONDS


def _network_failure(cause: Exception) -> ConnectionFailedError:
    try:
        raise ConnectionFailedError("ConnectionError on POST https://api/v1/files") from cause
    except ConnectionFailedError as error:
        return error


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (
            requests.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused"),
            "connection refused",
        ),
        (
            requests.ConnectionError("Failed to resolve 'api' ([Errno -2] Name or service not known)"),
            "DNS lookup failed",
        ),
        (requests.ReadTimeout("Read timed out. (read timeout=30)"), "timed out"),
        (requests.ConnectionError("('Connection aborted.', RemoteDisconnected())"), "connection dropped"),
    ],
)
def test_a_network_failure_is_named_in_a_few_words(cause: Exception, expected: str) -> None:
    assert transient_trouble(_network_failure(cause)) == Trouble("AudioLasso unreachable", expected)


def test_a_service_failure_is_named_by_its_answer() -> None:
    trouble = transient_trouble(UpstreamError("provider down", status_code=502, code="UPSTREAM_FAILED"))

    assert str(trouble) == "AudioLasso failing: 502 UPSTREAM_FAILED provider down"


def test_the_trouble_behind_a_wrapping_error_is_found() -> None:
    error = RecordsFailedError("1 object(s) failed")
    error.__cause__ = ServerError("boom", status_code=500)

    assert transient_trouble(error) == Trouble("AudioLasso failing", "500 boom")


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad", status_code=400), ConcurrentChangeError("taken over"), ValueError("bug"), None],
)
def test_other_failures_are_not_transient_trouble(error: BaseException | None) -> None:
    assert transient_trouble(error) is None


def test_a_scaled_schedule_doubles_from_its_first_delay_up_to_its_cap() -> None:
    schedule = RetrySchedule.from_env({"RETRY_FIRST_DELAY_SECONDS": "1", "RETRY_MAX_DELAY_SECONDS": "4"})

    assert [schedule.delay(count) for count in range(1, 6)] == [1, 2, 4, 4, 4]
    assert RetrySchedule.from_env({}) == RetrySchedule(30, 900)


@pytest.mark.parametrize(
    "env",
    [
        {"RETRY_FIRST_DELAY_SECONDS": "60", "RETRY_MAX_DELAY_SECONDS": "30"},
        {"RETRY_MAX_DELAY_SECONDS": "43201"},
        {"RETRY_FIRST_DELAY_SECONDS": "0"},
    ],
)
def test_a_schedule_sqs_could_not_follow_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="RETRY_"):
        RetrySchedule.from_env(env)
