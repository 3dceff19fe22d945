"""A delivery failing for a transient reason is retried after the backoff delay, not the queue's timeout."""

import logging

import pytest

from lassodrop.jobs import Status
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.fixtures.aws import CallRecorder
from tests.ingest.conftest import Ingest, Stack


@pytest.mark.parametrize(("receive_count", "delay"), [("1", 30), ("3", 120), ("9", 900)])
def test_audiolasso_offline_sets_the_message_visibility_to_the_backoff_delay(
    stack: Stack,
    ingest: Ingest,
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    receive_count: str,
    delay: int,
) -> None:
    # Given AudioLasso refusing connections, and a message received `receive_count` times
    stack.drop("offline.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()
    record = event["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = receive_count
    changes = CallRecorder(ingest.service.checks.sqs, "ChangeMessageVisibility").calls
    emulator.go_offline()

    # When it is delivered
    response = ingest(event)

    # Then it fails, its own visibility set to the scheduled delay on the ingest queue
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert changes == [
        {
            "QueueUrl": changes[0]["QueueUrl"],
            "ReceiptHandle": record["receiptHandle"],
            "VisibilityTimeout": delay,
        }
    ]
    assert changes[0]["QueueUrl"].endswith("/" + stack.ingest_queue_url.rsplit("/", 1)[-1])
    # And the row shows the attempt and why it failed, released for the retry
    (row,) = stack.rows()
    assert (row.status, row.attempts, row.lease_until) == (Status.UPLOADING, 1, 0)
    assert row.last_cause == "AudioLasso unreachable: connection refused"
    # And the failure is one short warning naming the cause, with no traceback at ERROR
    warned = [record for record in caplog.records if record.getMessage() == "AudioLasso unreachable"]
    assert [(record.levelno, record.__dict__.get("cause")) for record in warned] == [
        (logging.WARNING, "connection refused")
    ]
    assert warned[0].exc_info is None
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_the_retry_after_the_outage_submits_and_keeps_the_attempt_count(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a delivery that failed while AudioLasso was offline
    stack.drop("back.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()
    emulator.go_offline()
    assert ingest(event)["batchItemFailures"]

    # When AudioLasso is back and the message is redelivered
    emulator.go_online()
    response = ingest(event)

    # Then the object is submitted on the second attempt
    assert response == {"batchItemFailures": []}
    (row,) = stack.rows()
    assert (row.status, row.attempts) == (Status.SUBMITTED, 2)


def test_a_message_visible_again_after_the_delay_is_received_again(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a delivery that failed transiently (visibility set to 30 s, the queue's own being 5400 s)
    stack.drop("seen.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()
    emulator.go_offline()
    assert ingest(event)["batchItemFailures"]

    # Then the queue hides it for now, and the visibility the function set is what SQS keeps
    assert stack.sqs.receive_message(QueueUrl=stack.ingest_queue_url).get("Messages", []) == []
    stack.sqs.change_message_visibility(
        QueueUrl=stack.ingest_queue_url,
        ReceiptHandle=event["Records"][0]["receiptHandle"],
        VisibilityTimeout=0,
    )
    again = stack.sqs.receive_message(QueueUrl=stack.ingest_queue_url, AttributeNames=["All"])["Messages"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
