"""Failing output downloads and status reads leave no trace of a signed query in what collect logs or stores,
and what the provider says about a failure is kept short on the row and in the event."""

import dataclasses
import json
from typing import Any

import pytest

from lassodrop import runtime
from lassodrop.audiolasso import AudioLassoClient, JobResult
from lassodrop.audiolasso.redact import MAX_ERROR_TEXT
from tests.collect.conftest import Pipeline, check_queue_arn
from tests.fixtures.aws import drain
from tests.fixtures.events import received_sqs_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler
from tests.fixtures.signed_storage import SIGNED_QUERY, FailingStorage, LogCapture, assert_no_signed_url

LONG = "x" * 5000


def _collect(pipeline: Pipeline, object_id: str) -> tuple[dict[str, Any], str]:
    """One first check through the collect handler: its response, and the id of the message it was."""
    body = json.dumps({"object_id": object_id, "reason": "first-check"})
    pipeline.stack.sqs.send_message(QueueUrl=pipeline.stack.check_queue_url, MessageBody=body)
    event = received_sqs_event(
        drain(pipeline.stack.sqs, pipeline.stack.check_queue_url), check_queue_arn(pipeline)
    )
    response = load_handler("collect").lambda_handler(event, FakeLambdaContext("lassodrop-collect"))
    return response, event["Records"][0]["messageId"]


def _outputs_at(monkeypatch: pytest.MonkeyPatch, storage: FailingStorage) -> None:
    """Every job's outputs are presigned URLs on `storage` instead of the emulator's."""
    result = AudioLassoClient.result

    def signed_result(self: AudioLassoClient, *args: Any, **kwargs: Any) -> JobResult:
        got = result(self, *args, **kwargs)
        return dataclasses.replace(
            got,
            target=dataclasses.replace(got.target, url=storage.url(f"/outputs/{got.request_id}/target.wav")),
            residual=dataclasses.replace(
                got.residual, url=storage.url(f"/outputs/{got.request_id}/residual.wav")
            ),
        )

    monkeypatch.setattr(AudioLassoClient, "result", signed_result)


def _signed_status_url(pipeline: Pipeline, object_id: str) -> str:
    """Give the row a status URL with a signed query, as a service handing out signed status URLs would."""
    url = f"{pipeline.row(object_id)['status_url']}?{SIGNED_QUERY}"
    pipeline.stack.table.update_item(
        Key={"object_id": object_id},
        UpdateExpression="SET status_url = :url",
        ExpressionAttributeValues={":url": url},
    )
    return url


def _everything(logs: LogCapture, pipeline: Pipeline, object_id: str) -> str:
    """The capture, plus the row and the events: all of it may end up in front of people.

    The row's own status URL and webhook token are left out (they are stored on purpose); the token must
    not show anywhere else.
    """
    row = pipeline.row(object_id)
    token = row.pop("webhook_token")
    row.pop("status_url")
    logs.extra.extend([repr(row), repr(pipeline.stack.events())])
    text = logs.text()
    assert token not in text
    return text


def test_an_expired_output_url_is_recorded_short_and_without_its_query(
    pipeline: Pipeline,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a finished job whose outputs answer 410 with a 5,000-character message naming the whole URL
    object_id = pipeline.drop("expired.wav")
    with FailingStorage("expired") as storage:
        _outputs_at(monkeypatch, storage)

        # When collect checks it, with everything logged at DEBUG
        with LogCapture(caplog).capturing() as logs:
            response, _ = _collect(pipeline, object_id)

    # Then the job is EXPIRED with a bounded message that names the output without its query
    assert response == {"batchItemFailures": []}
    row = pipeline.row(object_id)
    assert row["status"] == "EXPIRED"
    message = row["error"]["message"]
    assert message.startswith("The output URL https://storage.example/outputs/")
    assert len(message) == MAX_ERROR_TEXT
    [event] = pipeline.stack.events()
    assert event["detail"]["error"] == {"code": "OUTPUT_EXPIRED", "message": message}
    assert_no_signed_url(_everything(logs, pipeline, object_id))


def test_a_reset_output_download_is_logged_without_its_query(
    pipeline: Pipeline,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a finished job whose output host resets every connection
    object_id = pipeline.drop("reset.wav")
    with FailingStorage("reset") as storage:
        _outputs_at(monkeypatch, storage)

        # When collect checks it, with everything logged at DEBUG
        with LogCapture(caplog).capturing() as logs:
            response, message_id = _collect(pipeline, object_id)

    # Then the check fails for a retry with the reset in its log line, and nothing of the signed query shows
    assert response == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    # The client's five attempts for each stem: both are copied at once.
    assert (
        sorted(path.split("?")[0].rsplit("/", 1)[1] for path in storage.paths)
        == ["residual.wav"] * 5 + ["target.wav"] * 5
    )
    text = _everything(logs, pipeline, object_id)
    assert "ConnectionResetError" in text
    assert '"cause":' in text  # the one short WARNING naming the failure
    assert_no_signed_url(text)


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_failing_status_reads_are_logged_without_the_status_urls_query(
    failure: str,
    pipeline: Pipeline,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a submitted job with a signed status URL, whose status reads fail with a 500 echoing that URL
    # at length, or time out
    object_id = pipeline.drop("status.wav")
    url = _signed_status_url(pipeline, object_id)
    if failure == "500":
        pipeline.emulator.state.fail_next("status", 500, count=5, message=f"upstream failed for {url} {LONG}")
    else:
        pipeline.emulator.state.set_latency(1.0, route="status")
        monkeypatch.setattr(runtime, "build_client", _impatient_client)

    # When collect checks it, with everything logged at DEBUG
    with LogCapture(caplog).capturing() as logs:
        response, message_id = _collect(pipeline, object_id)

    # Then the check fails for a retry, and nothing of the signed query shows anywhere
    assert response == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    text = _everything(logs, pipeline, object_id)
    assert '"cause":' in text  # the one short WARNING naming the failure
    assert ("ServerError" if failure == "500" else "ReadTimeout") in text
    assert_no_signed_url(text)


def _impatient_client(settings: runtime.ApiSettings, api_key: str) -> AudioLassoClient:
    """The deployed client, but giving up on an answer after 0.2 s."""
    return AudioLassoClient(api_key, settings.base_url, allow_local=settings.allow_local, timeout=(1.0, 0.2))


def test_a_long_provider_error_ends_bounded_on_the_row_and_in_the_event(
    pipeline: Pipeline, environment: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a job the service no longer knows, its 404 carrying a 5,000-character message
    object_id = pipeline.drop("long-error.wav")
    message = f"no such request: {LONG}"
    pipeline.emulator.state.fail_next("status", 404, code="REQUEST_NOT_FOUND", message=message)

    # When collect checks it
    with LogCapture(caplog).capturing() as logs:
        response, _ = _collect(pipeline, object_id)

    # Then the row and the event carry the code, and the message cut to the one bound
    assert response == {"batchItemFailures": []}
    row = pipeline.row(object_id)
    assert row["status"] == "FAILED"
    assert row["error"]["code"] == "REQUEST_NOT_FOUND"
    stored = row["error"]["message"]
    assert stored.startswith("no such request: xxx")
    assert len(stored) == MAX_ERROR_TEXT
    [event] = pipeline.stack.events()
    assert event["detail"]["error"] == {"code": "REQUEST_NOT_FOUND", "message": stored}
    assert LONG not in logs.text()
