"""Pure pieces of the SQS mapping: record conversion and which messages a response lets Lambda delete."""

import base64

import pytest

from lassodrop_local.runner import Invocation
from lassodrop_local.runner.sqs import sqs_record, succeeded_message_ids

IDS = ["m1", "m2", "m3"]


def invocation(payload, ok=True) -> Invocation:
    return Invocation("r", ok, payload, 1.0, cold=False)


def test_partial_failures_keep_only_listed_messages():
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    assert succeeded_message_ids(invocation(response), IDS, report_failures=True) == ["m1", "m3"]


@pytest.mark.parametrize(
    "response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "done"]
)
def test_response_without_failures_deletes_the_whole_batch(response):
    assert succeeded_message_ids(invocation(response), IDS, report_failures=True) == IDS


@pytest.mark.parametrize(
    "failures",
    [[{"itemIdentifier": "unknown"}], [{"itemIdentifier": ""}], [{"itemIdentifier": None}], ["m1"]],
)
def test_malformed_failures_keep_the_whole_batch(failures):
    response = {"batchItemFailures": failures}

    assert succeeded_message_ids(invocation(response), IDS, report_failures=True) == []


def test_failures_are_ignored_unless_the_mapping_reports_them():
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    assert succeeded_message_ids(invocation(response), IDS, report_failures=False) == IDS


def test_failed_invocation_keeps_the_whole_batch():
    error = {"errorType": "ValueError", "errorMessage": "x"}

    assert succeeded_message_ids(invocation(error, ok=False), IDS, report_failures=True) == []


def test_binary_message_attribute_is_base64_as_in_lambda():
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": "b",
        "MD5OfBody": "md5",
        "MD5OfMessageAttributes": "md5a",
        "Attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "g", "Policy": "not a record field"},
        "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    }

    record = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")

    assert record["messageAttributes"]["blob"] == {
        "binaryValue": base64.b64encode(b"\x00\x01").decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert record["attributes"] == {"ApproximateReceiveCount": "1", "MessageGroupId": "g"}
    assert record["md5OfMessageAttributes"] == "md5a"
