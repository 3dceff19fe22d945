"""SQS event source mapping: Lambda's event shape, partial batch responses, and the poller using them."""

import base64
import threading
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lassodrop_local.runner.sandbox import Invocation, LogSink, Sandbox
from lassodrop_local.runner.spec import SqsMapping

# The system attributes Lambda copies into each record (the FIFO ones and the trace header only when present).
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)
_RECEIVE_WAIT_SECONDS = 1
_ERROR_BACKOFF_SECONDS = 1.0


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a ReceiveMessage result (boto3 shape)."""
    attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in _RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def succeeded_message_ids(invocation: Invocation, message_ids: list[str], report_failures: bool) -> list[str]:
    """Which messages of a batch Lambda deletes after an invocation.

    A failed invocation deletes none. With ReportBatchItemFailures, every message not listed in
    `batchItemFailures` succeeded, and a malformed response (an id that is empty or not in the batch) fails
    the whole batch, as Lambda does. Without it, the response is ignored.
    """
    if not invocation.ok:
        return []
    if not report_failures:
        return list(message_ids)
    response = invocation.payload
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return list(message_ids)
    failed = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    if not failed <= set(message_ids):
        return []
    return [message_id for message_id in message_ids if message_id not in failed]


class SqsPoller:
    """One concurrency slot of an event source mapping: receives a batch, invokes its own sandbox, deletes.

    Messages that are not deleted stay in flight until the queue's visibility timeout, then are received
    again; the queue's redrive policy (moto applies maxReceiveCount on receive, as SQS does) moves them to
    the DLQ.
    """

    def __init__(
        self,
        sqs: Any,
        mapping: SqsMapping,
        queue_arn: str,
        region: str,
        sandbox: Sandbox,
        stop: threading.Event,
        sink: LogSink,
        on_batch: Callable[[Invocation, int, int], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._mapping = mapping
        self._queue_arn = queue_arn
        self._region = region
        self._sandbox = sandbox
        self._stop = stop
        self._sink = sink
        self._on_batch = on_batch

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError) as exc:
                # The queue may be briefly unreachable (moto busy, shutting down): wait, bounded, and retry.
                self._sink(self._sandbox.spec.name, f"event source mapping error: {exc}")
                self._stop.wait(_ERROR_BACKOFF_SECONDS)

    def poll_once(self) -> Invocation | None:
        messages = self._sqs.receive_message(
            QueueUrl=self._mapping.queue_url,
            MaxNumberOfMessages=self._mapping.batch_size,
            WaitTimeSeconds=_RECEIVE_WAIT_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages or self._stop.is_set():
            return None
        invocation = self._sandbox.invoke(
            sqs_event(messages, self._queue_arn, self._region), str(uuid.uuid4())
        )
        ids = [message["MessageId"] for message in messages]
        done = set(succeeded_message_ids(invocation, ids, self._mapping.report_batch_item_failures))
        self._delete([message for message in messages if message["MessageId"] in done])
        if self._on_batch is not None:
            self._on_batch(invocation, len(messages), len(done))
        return invocation

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        response = self._sqs.delete_message_batch(QueueUrl=self._mapping.queue_url, Entries=entries)
        for failure in response.get("Failed", []):
            self._sink(self._sandbox.spec.name, f"event source mapping could not delete a message: {failure}")
