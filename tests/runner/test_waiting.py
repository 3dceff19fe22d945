"""The embedded stack (real template, functions in their own processes, moto server, emulator) pausing files
while the API key is refused and finishing them once it is restored, scaled down to three files."""

import json
from typing import Any

import pytest
import requests

from lassodrop.jobs import Job, Status
from lassodrop.jobs.breaker import BREAKER_ID
from lassodrop_local.runner.embedded import LOCAL_API_KEY, EmbeddedStack
from tests.fixtures.audio import riff_blob
from tests.fixtures.aws import drain
from tests.runner.helpers import LogLines, wait_until

pytestmark = pytest.mark.slow

FILES = 3


def _files(stack: EmbeddedStack) -> list[Job]:
    assert stack.info is not None
    table = stack.clients.table(stack.info.jobs_table)
    return [Job.from_item(item) for item in table.scan()["Items"] if item["object_id"] != BREAKER_ID]


def _statuses(stack: EmbeddedStack) -> list[Status]:
    return [row.status for row in _files(stack)]


def _capture_events(stack: EmbeddedStack) -> str:
    assert stack.info is not None
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName="bus-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.info.functions["IngestFunction"].environment["EVENT_BUS_NAME"]
    events.put_rule(Name="capture", EventBusName=bus, EventPattern='{"source": ["lassodrop"]}')
    events.put_targets(Rule="capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


def test_files_dropped_while_the_key_is_revoked_wait_then_complete_once_it_is_restored() -> None:
    with EmbeddedStack(LogLines(), env={}) as stack:
        assert stack.info is not None
        assert stack.provider is not None
        admin = f"{stack.provider.base_url}/_emulator"
        events_url = _capture_events(stack)
        seen: list[dict[str, Any]] = []

        def detail_types() -> list[str]:
            seen.extend(json.loads(m["Body"]) for m in drain(stack.client("sqs"), events_url))
            return [event["detail-type"] for event in seen]

        # Given a revoked key, and a file dropped into the input bucket, then two more once it waits (one
        # at a time: moto's server does not serialise conditional writes to one item the way DynamoDB does,
        # so two workers opening the breaker at the very same moment could both succeed there)
        requests.post(f"{admin}/revoke_key", json={"key": LOCAL_API_KEY}, timeout=5).raise_for_status()
        prefix = stack.info.parameters["InputPrefix"]
        for n in range(FILES):
            stack.client("s3").put_object(
                Bucket=stack.info.input_bucket, Key=f"{prefix}take-{n}.wav", Body=riff_blob(4096 + n)
            )
            wait_until(lambda count=n + 1: _statuses(stack) == [Status.WAITING] * count)

        # Then all three wait (none fails) and the pipeline says so once
        wait_until(lambda: "Pipeline Waiting" in detail_types())

        # When the key is restored
        requests.post(f"{admin}/restore_key", json={"key": LOCAL_API_KEY}, timeout=5).raise_for_status()

        # Then every file completes, each uploaded once, and the pipeline said it resumed once
        wait_until(lambda: _statuses(stack) == [Status.COMPLETED] * FILES, timeout=120)
        uploads = requests.get(f"{admin}/uploads", timeout=5).json()
        assert len(uploads) == FILES
        wait_until(lambda: "Pipeline Resumed" in detail_types())
        types = detail_types()
        assert (types.count("Pipeline Waiting"), types.count("Pipeline Resumed")) == (1, 1)
        assert types.count("Separation Completed") == FILES
