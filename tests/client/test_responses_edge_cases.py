"""Edge cases the emulator cannot produce on its own, served by `responses`."""

from collections.abc import Iterator

import pytest
import responses

from lassodrop.audiolasso import (
    AudioLassoClient,
    Output,
    RateLimitedError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    UnsafeUrlError,
)

MODELS_URL = "https://audiolasso.dev/v1/models"
OUTPUT_URL = "https://files.audiolasso.dev/outputs/req_1/target.wav"
OUTPUT = Output(OUTPUT_URL + "?sig=1", "audio/wav", "target.wav")
MODELS = {"object": "list", "data": [{"id": "audio/separate", "object": "model"}]}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def test_429_waits_exactly_the_retry_after_seconds_then_succeeds(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(MODELS_URL, status=429, json={"error": {"code": "RATE_LIMITED"}}, headers={"Retry-After": "7"})
    mocked.get(MODELS_URL, json=MODELS)

    models = AudioLassoClient("al_test_key").models()

    assert [model.id for model in models] == ["audio/separate"]
    assert sleeps == [7.0]


def test_503_retry_after_beyond_the_cap_is_raised_without_waiting(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(MODELS_URL, status=503, body="down for maintenance", headers={"Retry-After": "3600"})

    with pytest.raises(ServiceUnavailableError) as caught:
        AudioLassoClient("al_test_key").models()

    assert caught.value.retry_after == 3600.0
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_429_without_retry_after_backs_off_exponentially_with_a_cap_then_gives_up(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    mocked.get(MODELS_URL, status=429, json={"error": {"code": "RATE_LIMITED"}})

    with pytest.raises(RateLimitedError):
        AudioLassoClient("al_test_key", max_retries=6).models()

    assert len(mocked.calls) == 7
    ceilings = [min(8.0, 0.5 * 2**retry) for retry in range(6)]
    assert all(ceiling / 2 <= wait <= ceiling for wait, ceiling in zip(sleeps, ceilings, strict=True))


def test_503_on_submit_is_retried_because_the_service_did_no_work(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    url = "https://audiolasso.dev/v1/queue/audio/separate"
    mocked.post(url, status=503, headers={"Retry-After": "1"})
    mocked.post(url, status=202, json={"request_id": "req_1", "status": "IN_QUEUE"})

    submission = AudioLassoClient("al_test_key").submit("isolate the lead vocal", file_id="file_1")

    assert submission.request_id == "req_1"
    assert sleeps == [1.0]


def test_an_output_redirect_within_the_service_is_followed_without_credentials(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(OUTPUT_URL, status=302, headers={"Location": "https://cdn.audiolasso.dev/t.wav?sig=2"})
    mocked.get("https://cdn.audiolasso.dev/t.wav", body=b"RIFF....", headers={"Content-Length": "8"})

    with AudioLassoClient("al_test_key").open_output(OUTPUT) as stream:
        data = stream.read()

    assert (data, stream.content_length) == (b"RIFF....", 8)
    assert all("Authorization" not in call.request.headers for call in mocked.calls)


def test_an_output_redirect_to_a_foreign_host_is_refused(mocked: responses.RequestsMock) -> None:
    mocked.get(OUTPUT_URL, status=302, headers={"Location": "https://evil.example/t.wav"})
    client = AudioLassoClient("al_test_key")

    with pytest.raises(UnsafeUrlError), client.open_output(OUTPUT):
        pass

    assert len(mocked.calls) == 1


def test_a_success_answer_without_the_documented_fields_raises_unexpected_response(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get("https://audiolasso.dev/v1/queue/requests/req_1/status", json={"status": "COMPLETED"})

    with pytest.raises(UnexpectedResponseError, match="request_id"):
        AudioLassoClient("al_test_key").status("req_1")


def test_a_status_stream_that_ends_early_is_reopened_until_a_terminal_status(
    mocked: responses.RequestsMock, sleeps: list[float]
) -> None:
    url = "https://audiolasso.dev/v1/queue/requests/req_1/status/stream"
    mocked.get(url, body=_event("IN_QUEUE"), content_type="text/event-stream")
    mocked.get(url, body=_event("IN_PROGRESS") + _event("COMPLETED") + _event("IGNORED"))

    seen = [job.status for job in AudioLassoClient("al_test_key").stream_status("req_1")]

    assert seen == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert len(sleeps) == 1


def _event(status: str) -> str:
    return f'event: status\ndata: {{"request_id": "req_1", "status": "{status}"}}\n\n'
