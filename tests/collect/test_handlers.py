import json
from typing import Any

import pytest

from lassodrop.runtime import AwsClients
from tests.collect.conftest import Pipeline, check_queue_arn
from tests.fixtures.aws import CallCounter, drain
from tests.fixtures.events import function_url_event, received_sqs_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler


def webhook_call(pipeline: Pipeline, object_id: str, token: str | None = None) -> dict[str, Any]:
    row = pipeline.row(object_id)
    query = {"id": row["webhook_id"], "token": token or row["webhook_token"]}
    body = {"type": "audio.separate.completed", "request_id": row["request_id"], "status": "COMPLETED"}
    return load_handler("webhook").lambda_handler(function_url_event(query, body), FakeLambdaContext())


def test_webhook_makes_collection_immediate(pipeline: Pipeline, environment: dict[str, str]) -> None:
    # Given a submitted job whose first poll is still 30 s away, and the provider's webhook call
    object_id = pipeline.drop("hinted.wav")

    # When the webhook function answers it, and collect takes the check it enqueued
    response = webhook_call(pipeline, object_id)
    messages = drain(pipeline.stack.sqs, pipeline.stack.check_queue_url)
    result = load_handler("collect").lambda_handler(
        received_sqs_event(messages, check_queue_arn(pipeline)), FakeLambdaContext()
    )

    # Then the check was immediate (moto keeps delayed messages invisible) and the job is collected
    assert response["statusCode"] == 202
    assert [json.loads(m["Body"])["reason"] for m in messages] == ["webhook"]
    assert result == {"batchItemFailures": []}
    assert pipeline.row(object_id)["status"] == "COMPLETED"
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Completed"]


def test_collect_publishes_through_the_handlers_lazily_built_aws_clients(
    pipeline: Pipeline, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the collect handler, whose AWS clients all come from one AwsClients
    built: list[CallCounter] = []

    class CountingClients(AwsClients):
        def __init__(self) -> None:
            super().__init__()
            built.append(CallCounter(self.events, "PutEvents"))

    app = load_handler("collect")
    monkeypatch.setattr(app, "AwsClients", CountingClients)
    object_id = pipeline.drop("published.wav")
    check = json.dumps({"object_id": object_id, "reason": "first-check"})
    pipeline.stack.sqs.send_message(QueueUrl=pipeline.stack.check_queue_url, MessageBody=check)

    # When it collects the job
    messages = drain(pipeline.stack.sqs, pipeline.stack.check_queue_url)
    app.lambda_handler(received_sqs_event(messages, check_queue_arn(pipeline)), FakeLambdaContext())

    # Then its completion event went out through that AwsClients' events client, once
    assert [counter.counts for counter in built] == [{"PutEvents": 1}]
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Completed"]


def test_forged_webhook_changes_nothing(pipeline: Pipeline, environment: dict[str, str]) -> None:
    object_id = pipeline.drop("target-of-forgery.wav")
    before = pipeline.row(object_id)

    response = webhook_call(pipeline, object_id, token="forged-token")

    assert response["statusCode"] == 403
    assert drain(pipeline.stack.sqs, pipeline.stack.check_queue_url) == []
    assert pipeline.row(object_id) == before
    assert pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket).get("KeyCount", 0) == 0


def test_collect_reports_only_the_failed_record_of_a_batch(
    pipeline: Pipeline, environment: dict[str, str]
) -> None:
    # Given a batch with a malformed message and a good check
    object_id = pipeline.drop("batch.wav")
    sqs, queue = pipeline.stack.sqs, pipeline.stack.check_queue_url
    sqs.send_message(QueueUrl=queue, MessageBody="not json")
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({"object_id": object_id, "reason": "first-check"})
    )
    messages = drain(sqs, queue)

    # When collect handles the batch
    result = load_handler("collect").lambda_handler(
        received_sqs_event(messages, check_queue_arn(pipeline)), FakeLambdaContext()
    )

    # Then only the malformed one is returned for retry, and the good one completed its job
    bad = next(m["MessageId"] for m in messages if m["Body"] == "not json")
    assert result == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert pipeline.row(object_id)["status"] == "COMPLETED"


def test_collect_handler_without_configuration_names_the_missing_variable(
    pipeline: Pipeline, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTPUT_BUCKET")
    sqs, queue = pipeline.stack.sqs, pipeline.stack.check_queue_url
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({"object_id": "s3://x/y?version=1", "reason": "poll"})
    )

    with pytest.raises(ValueError, match="OUTPUT_BUCKET"):
        load_handler("collect").collector()
