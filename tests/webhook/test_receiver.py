import json
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from lassodrop.jobs import JobStore
from lassodrop.messages import CheckQueue
from lassodrop.webhook import WebhookReceiver
from tests.fixtures.aws import CallCounter, SendRecorder, drain
from tests.fixtures.events import function_url_event, load_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler

OBJECT_ID = "s3://drop/a b+c.wav?version=v1"
TOKEN = "tok_3e1f0c9a5b7d4e2f8a6c1b0d9e7f5a3c"
HOOK_ID = "Q2xW9eR4tY7uI1oP3aS5dF"
VALID = {"id": HOOK_ID, "token": TOKEN}


@pytest.fixture
def aws(jobs_table: Any) -> dict[str, Any]:
    """The template's jobs table (named `jobs`) and a check queue, in the same moto."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="check")["QueueUrl"]
    return {"table": jobs_table, "sqs": sqs, "queue_url": queue_url, "sent": SendRecorder(sqs)}


def put_job(table: Any, status: str = "SUBMITTED", **extra: Any) -> None:
    """The row, and the pointer from HOOK_ID to it, as ingest leaves them."""
    JobStore(table).create_webhook_pointer(HOOK_ID, OBJECT_ID, ttl_days=1)
    table.put_item(
        Item={
            "object_id": OBJECT_ID,
            "bucket": "drop",
            "key": "a b+c.wav",
            "status": status,
            "request_id": "req_01ABC",
            "webhook_token": TOKEN,
            "webhook_id": HOOK_ID,
            **extra,
        }
    )


NOW = 1_790_000_000


def receiver(aws: dict[str, Any]) -> WebhookReceiver:
    return WebhookReceiver(
        JobStore(aws["table"]),
        CheckQueue(aws["sqs"], aws["queue_url"]),
        check_interval_seconds=60,
        clock=lambda: NOW + 0.5,
    )


def completed_body() -> dict[str, Any]:
    # What the provider posts; the receiver must not act on any of it.
    return {
        "type": "audio.separate.completed",
        "request_id": "req_01ABC",
        "status": "COMPLETED",
        "data": {"target": {"url": "https://evil.example/t.wav"}},
    }


def test_valid_token_enqueues_one_immediate_webhook_check(aws: dict[str, Any]) -> None:
    put_job(aws["table"])

    reply = receiver(aws).handle(function_url_event(VALID, completed_body()))

    assert reply.status_code == 202
    assert aws["sent"].delays == [0]
    assert aws["sent"].bodies == [{"object_id": OBJECT_ID, "request_id": "req_01ABC", "reason": "webhook"}]


@pytest.mark.parametrize(("checked_ago", "sent"), [(0, 0), (60, 0), (61, 1), (None, 1)])
def test_a_job_checked_for_a_webhook_within_the_interval_is_not_checked_again(
    aws: dict[str, Any], checked_ago: int | None, sent: int
) -> None:
    # Given a job whose last webhook-caused status read was `checked_ago` seconds ago (or never)
    extra = {} if checked_ago is None else {"webhook_checked_at": NOW - checked_ago}
    put_job(aws["table"], **extra)

    # When a valid call arrives
    reply = receiver(aws).handle(function_url_event(VALID, completed_body()))

    # Then it is accepted either way, and a check is only enqueued once the interval has passed
    assert reply.status_code == 202
    assert reply.body == {"status": "accepted" if sent else "throttled"}
    assert len(aws["sent"].calls) == sent


@pytest.mark.parametrize(
    "query",
    [
        {"id": HOOK_ID, "token": "tok_wrong"},
        {"id": HOOK_ID, "token": TOKEN[:-1]},
        {"id": "Q2xW9eR4tY7uI1oP3aS5dG", "token": TOKEN},
    ],
)
def test_wrong_token_or_unknown_job_is_forbidden_and_changes_nothing(
    aws: dict[str, Any], query: dict[str, str]
) -> None:
    put_job(aws["table"])
    before = aws["table"].get_item(Key={"object_id": OBJECT_ID})["Item"]

    reply = receiver(aws).handle(function_url_event(query, completed_body()))

    assert reply.status_code == 403
    assert reply.body == {"error": {"code": "FORBIDDEN", "message": "unknown job or wrong token"}}
    assert aws["sent"].calls == []
    assert aws["table"].get_item(Key={"object_id": OBJECT_ID})["Item"] == before


def test_a_pointer_its_row_no_longer_names_authenticates_nothing(aws: dict[str, Any]) -> None:
    # Given a row whose upload was retried: the first attempt's pointer still names it, the row a newer id
    put_job(aws["table"], webhook_id="newerAttemptId")

    # When a call carries the first attempt's id, and the token stored on the row
    reply = receiver(aws).handle(function_url_event(VALID, completed_body()))

    # Then it is refused like any unknown job
    assert reply.status_code == 403
    assert aws["sent"].calls == []


@pytest.mark.parametrize(
    "query", [None, {"id": HOOK_ID}, {"token": TOKEN}, {"object_id": OBJECT_ID, "token": TOKEN}]
)
def test_missing_token_or_object_is_unauthenticated(
    aws: dict[str, Any], query: dict[str, str] | None
) -> None:
    put_job(aws["table"])

    reply = receiver(aws).handle(function_url_event(query, completed_body()))

    assert reply.status_code == 401
    assert aws["sent"].calls == []


@pytest.mark.parametrize(
    "query",
    [
        {"id": "k" * 2100, "token": TOKEN},
        {"id": "k" * 65, "token": TOKEN},
        {"id": "a\x00b", "token": TOKEN},
        {"id": "a\nb", "token": TOKEN},
        {"id": "hook#" + HOOK_ID, "token": TOKEN},
        {"id": OBJECT_ID, "token": TOKEN},
        {"id": HOOK_ID, "token": "t" * 129},
        {"id": HOOK_ID, "token": TOKEN + "\x7f"},
        {"id": HOOK_ID, "token": "tok en"},
        {"id": HOOK_ID, "token": "tók"},
    ],
)
def test_malformed_parameters_are_refused_before_the_table_is_read(
    aws: dict[str, Any], query: dict[str, str]
) -> None:
    put_job(aws["table"])
    reads = CallCounter(aws["table"].meta.client, "GetItem", "Query", "Scan")

    reply = receiver(aws).handle(function_url_event(query, completed_body()))

    assert reply.status_code == 400
    assert reply.body["error"]["code"] == "MALFORMED"
    assert reads.counts == {"GetItem": 0, "Query": 0, "Scan": 0}
    assert aws["sent"].calls == []


def test_values_at_the_length_bounds_are_still_read_and_compared(aws: dict[str, Any]) -> None:
    put_job(aws["table"])
    reads = CallCounter(aws["table"].meta.client, "GetItem")

    reply = receiver(aws).handle(function_url_event({"id": "k" * 64, "token": "t" * 128}, completed_body()))

    assert reply.status_code == 403
    assert reads.counts == {"GetItem": 1}


def test_job_without_a_webhook_token_refuses_every_token(aws: dict[str, Any]) -> None:
    put_job(aws["table"], webhook_token="")

    reply = receiver(aws).handle(function_url_event({"id": HOOK_ID, "token": ""}, completed_body()))
    forged = receiver(aws).handle(function_url_event({"id": HOOK_ID, "token": "x"}, completed_body()))

    assert (reply.status_code, forged.status_code) == (401, 403)
    assert aws["sent"].calls == []


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "EXPIRED", "TIMED_OUT"])
def test_finished_job_is_acknowledged_without_a_check(aws: dict[str, Any], status: str) -> None:
    put_job(aws["table"], status=status)

    reply = receiver(aws).handle(function_url_event(VALID, completed_body()))

    assert reply.status_code == 200
    assert aws["sent"].calls == []


def test_get_is_not_a_webhook(aws: dict[str, Any]) -> None:
    put_job(aws["table"])

    reply = receiver(aws).handle(function_url_event(VALID, {}, method="GET"))

    assert reply.status_code == 405
    assert aws["sent"].calls == []


def test_handler_answers_a_function_url_response(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    put_job(aws["table"])
    monkeypatch.setenv("JOBS_TABLE", "jobs")
    monkeypatch.setenv("CHECK_QUEUE_URL", aws["queue_url"])
    app = load_handler("webhook")

    response = app.lambda_handler(function_url_event(VALID, completed_body()), FakeLambdaContext())

    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"status": "accepted"}
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"])["Messages"]
    assert json.loads(messages[0]["Body"])["reason"] == "webhook"


def test_handler_without_configuration_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBS_TABLE", raising=False)
    monkeypatch.setenv("CHECK_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/check")
    app = load_handler("webhook")

    with pytest.raises(ValueError, match="JOBS_TABLE"):
        app.lambda_handler(function_url_event(None, {}), FakeLambdaContext())


def test_the_sample_function_url_event_enqueues_a_check_through_the_handler(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the submitted job the sample webhook call names, with the token the sample carries
    event = load_event("function-url-webhook.json")
    query = event["queryStringParameters"]
    assert parse_qs(event["rawQueryString"]) == {name: [value] for name, value in query.items()}
    request_id = json.loads(event["body"])["request_id"]
    object_id = "s3://lassodrop-input-123456789012-us-east-1/incoming/interview.wav?version=v1"
    JobStore(aws["table"]).create_webhook_pointer(query["id"], object_id, ttl_days=1)
    aws["table"].put_item(
        Item={
            "object_id": object_id,
            "status": "SUBMITTED",
            "request_id": request_id,
            "webhook_token": query["token"],
            "webhook_id": query["id"],
        }
    )
    monkeypatch.setenv("JOBS_TABLE", "jobs")
    monkeypatch.setenv("CHECK_QUEUE_URL", aws["queue_url"])

    # When the webhook handler answers the sample as it is
    response = load_handler("webhook").lambda_handler(event, FakeLambdaContext("lassodrop-webhook"))

    # Then it is accepted and one check for that job is enqueued, visible at once (moto hides delayed ones)
    assert response["statusCode"] == 202
    messages = drain(aws["sqs"], aws["queue_url"])
    check = {"object_id": object_id, "request_id": request_id, "reason": "webhook"}
    assert [json.loads(message["Body"]) for message in messages] == [check]
