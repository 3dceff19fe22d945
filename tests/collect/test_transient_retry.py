"""A check that fails for a transient reason is retried after the backoff delay, not the queue's timeout."""

import json
import logging

import pytest

from tests.collect.conftest import Pipeline, check_queue_arn
from tests.fixtures.aws import CallRecorder
from tests.fixtures.events import received_sqs_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler


def test_audiolasso_offline_retries_the_check_after_the_backoff_delay_and_notes_why(
    pipeline: Pipeline, environment: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a submitted job whose check is received for the second time while AudioLasso refuses connections
    object_id = pipeline.drop("offline.wav")
    queue = pipeline.stack.check_queue_url
    check = json.dumps({"object_id": object_id, "reason": "first-check"})
    pipeline.stack.sqs.send_message(QueueUrl=queue, MessageBody=check)
    messages = pipeline.stack.sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"]
    event = received_sqs_event(messages, check_queue_arn(pipeline))
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    app = load_handler("collect")
    changes = CallRecorder(app.collector().checks.sqs, "ChangeMessageVisibility").calls
    pipeline.emulator.go_offline()

    # When collect takes it
    response = app.lambda_handler(event, FakeLambdaContext())

    # Then the check fails, to come back in 60 s (the second step of the schedule), not the queue's 1800 s
    record = event["Records"][0]
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert [(call["ReceiptHandle"], call["VisibilityTimeout"]) for call in changes] == [
        (record["receiptHandle"], 60)
    ]
    assert pipeline.stack.sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
    # And the row counts the failed check with its cause, still SUBMITTED
    row = pipeline.row(object_id)
    assert (row["status"], row["check_failures"]) == ("SUBMITTED", 1)
    assert row["last_cause"] == "AudioLasso unreachable: connection refused"
    # And the log says so in one warning, without a traceback
    warned = [r for r in caplog.records if r.getMessage() == "AudioLasso unreachable"]
    assert [(r.levelno, r.__dict__.get("cause"), r.exc_info) for r in warned] == [
        (logging.WARNING, "connection refused", None)
    ]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_check_failing_for_another_reason_keeps_the_queue_timeout(
    pipeline: Pipeline, environment: dict[str, str]
) -> None:
    # Given a check message collect cannot read (no transient trouble: a retry soon would not help)
    queue = pipeline.stack.check_queue_url
    pipeline.stack.sqs.send_message(QueueUrl=queue, MessageBody="not a check message")
    messages = pipeline.stack.sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"]
    app = load_handler("collect")
    changes = CallRecorder(app.collector().checks.sqs, "ChangeMessageVisibility").calls

    # When collect takes it
    response = app.lambda_handler(
        received_sqs_event(messages, check_queue_arn(pipeline)), FakeLambdaContext()
    )

    # Then it fails without touching its visibility
    assert len(response["batchItemFailures"]) == 1
    assert changes == []
