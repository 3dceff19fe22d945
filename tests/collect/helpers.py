"""Helpers shared by the collect and webhook tests."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load_handler(function: str) -> ModuleType:
    """Import functions/<function>/app.py fresh (each function's app module is named `app` in Lambda)."""
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"lassodrop_test_{function}_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def create_jobs_table(dynamodb: Any, name: str = "jobs") -> Any:
    """The jobs table as the contract describes it (used until the template-built stack is available)."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "object_id", "AttributeType": "S"},
            {"AttributeName": "request_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "object_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-request-id",
                "KeySchema": [{"AttributeName": "request_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return dynamodb.Table(name)


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message currently visible on the queue (moto hides delayed ones until their delay passes)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def function_url_event(
    query: dict[str, str] | None, body: dict[str, Any], method: str = "POST"
) -> dict[str, Any]:
    """A Lambda Function URL event, payload format 2.0."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query,
        "requestContext": {
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "b6d0a5f0",
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class SendRecorder:
    """Records every SendMessage made through a boto3 SQS client (a botocore event hook, nothing faked)."""

    def __init__(self, sqs: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        sqs.meta.events.register("provide-client-params.sqs.SendMessage", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(dict(params))

    @property
    def delays(self) -> list[int]:
        return [int(call.get("DelaySeconds", 0)) for call in self.calls]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(call["MessageBody"]) for call in self.calls]


class CallCounter:
    """Counts API operations made through one boto3 client, by operation name (a botocore event hook)."""

    def __init__(self, client: Any, *operations: str) -> None:
        self.counts = dict.fromkeys(operations, 0)
        service = client.meta.service_model.service_name
        for operation in operations:
            client.meta.events.register(f"before-call.{service}.{operation}", self._count(operation))

    def _count(self, operation: str) -> Any:
        def count(**_: Any) -> None:
            self.counts[operation] += 1

        return count


class LambdaContextStub:
    function_name = "lassodrop-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:lassodrop-test"
    aws_request_id = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }
