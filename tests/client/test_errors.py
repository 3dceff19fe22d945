import pytest

from lassodrop.audiolasso import (
    AudioLassoError,
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    ExpiredError,
    FileTooLargeError,
    InsufficientCreditsError,
    InvalidInputError,
    JobFailedError,
    LengthRequiredError,
    NotFoundError,
    NotReadyError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    UnsafeUrlError,
    UpstreamError,
    error_from_response,
)
from lassodrop.audiolasso.errors import parse_retry_after

EXPECTED = {
    400: (BadRequestError, False),
    401: (AuthenticationError, False),
    402: (InsufficientCreditsError, False),
    403: (PermissionDeniedError, False),
    404: (NotFoundError, False),
    409: (NotReadyError, False),
    410: (ExpiredError, False),
    411: (LengthRequiredError, False),
    413: (FileTooLargeError, False),
    429: (RateLimitedError, True),
    500: (ServerError, True),
    502: (UpstreamError, True),
    503: (ServiceUnavailableError, True),
}


@pytest.mark.parametrize(("status", "expected"), EXPECTED.items())
def test_each_status_maps_to_its_class_and_retryability(status: int, expected: tuple[type, bool]) -> None:
    error_class, retryable = expected

    code = "REQUEST_NOT_READY" if status == 409 else "SOME_CODE"

    error = error_from_response(status, {"error": {"code": code, "message": "m"}})

    assert type(error) is error_class
    assert error.retryable is retryable
    assert error.status_code == status


def test_error_fields_are_carried_from_the_error_object() -> None:
    body = {
        "error": {
            "code": "INVALID_AUDIO_URL",
            "message": "Refused.",
            "param": "input.audio_url",
            "request_id": "req_1",
        }
    }

    error = error_from_response(400, body)

    assert (error.code, error.message, error.param, error.request_id) == (
        "INVALID_AUDIO_URL",
        "Refused.",
        "input.audio_url",
        "req_1",
    )


def test_a_409_carrying_the_jobs_own_error_is_a_job_failure() -> None:
    error = error_from_response(409, {"error": {"code": "MODEL_FAILED", "message": "No."}})

    assert isinstance(error, JobFailedError)
    assert error.code == "MODEL_FAILED"
    assert not error.retryable


@pytest.mark.parametrize("body", ["<html>Bad Gateway</html>", "", None, [1, 2], {"error": "flat string"}])
def test_odd_error_bodies_still_map_by_status(body: object) -> None:
    error = error_from_response(502, body)

    assert isinstance(error, UpstreamError)
    assert error.code is None
    assert error.message


def test_unknown_5xx_is_a_retryable_server_error_and_unknown_4xx_is_not_retryable() -> None:
    assert isinstance(error_from_response(504, None), ServerError)
    assert error_from_response(504, None).retryable
    unknown = error_from_response(418, None)
    assert type(unknown) is AudioLassoError
    assert not unknown.retryable


def test_local_refusals_are_not_retryable_and_network_errors_are() -> None:
    assert not InvalidInputError("x").retryable
    assert not UnsafeUrlError("x").retryable
    assert ConnectionFailedError("x").retryable


def test_retry_after_is_read_from_seconds_or_an_http_date() -> None:
    assert error_from_response(429, None, {"Retry-After": "7"}).retry_after == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
