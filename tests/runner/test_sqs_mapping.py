"""The SQS event source mapping against moto's server: event shape, deletes, partial failures, redrive."""

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lassodrop_local.runner import Runtime, SqsMapping
from tests.runner.helpers import Queues, Toy, queue_depth, wait_until

RECORDING = """
def lambda_handler(event, context):
    for r in event["Records"]:
        count = r["attributes"]["ApproximateReceiveCount"]
        record(body=r["body"], count=count, at=time.time(), pid=os.getpid(), event=event)
"""

# Bodies starting with "bad" fail, reported as partial batch failures.
PARTIAL = """
def lambda_handler(event, context):
    failures = []
    for r in event["Records"]:
        record(body=r["body"], count=r["attributes"]["ApproximateReceiveCount"], at=time.time())
        if r["body"].startswith("bad"):
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def run(settings, logs) -> Iterator[Callable[..., Runtime]]:
    runtimes: list[Runtime] = []

    def start(toy: Toy, mapping: SqsMapping) -> Runtime:
        runtime = Runtime([(toy.spec, mapping)], settings, sink=logs)
        runtimes.append(runtime)
        runtime.start()
        return runtime

    yield start
    for runtime in runtimes:
        runtime.stop()


def send(sqs, queue: Queues, *bodies: str, **kwargs) -> list[str]:
    return [sqs.send_message(QueueUrl=queue.url, MessageBody=body, **kwargs)["MessageId"] for body in bodies]


def test_records_have_the_lambda_sqs_event_shape(sqs, make_queue, toy, run):
    # Given a queue with one message carrying a message attribute
    queue = make_queue()
    body = json.dumps({"object_id": "s3://in/a.wav"})
    [message_id] = send(
        sqs, queue, body, MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}}
    )
    fn = toy(RECORDING)

    # When the mapping delivers it
    run(fn, SqsMapping(queue.url, batch_size=1))
    call = wait_until(fn.calls)[0]

    # Then the function received exactly Lambda's SQS record
    record = call["event"]["Records"][0]
    assert set(call["event"]) == {"Records"}
    assert record["messageId"] == message_id
    assert record["body"] == body
    assert record["receiptHandle"]
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SentTimestamp"].isdigit()
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "x", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"


def test_successful_batch_is_deleted(sqs, make_queue, toy, run):
    queue = make_queue()
    send(sqs, queue, "one", "two", "three")
    fn = toy(RECORDING)

    runtime = run(fn, SqsMapping(queue.url, batch_size=10, maximum_concurrency=1))

    wait_until(lambda: queue_depth(sqs, queue.url) == (0, 0) and len(fn.calls()) == 3)
    assert sorted(call["body"] for call in fn.calls()) == ["one", "three", "two"]
    assert runtime.stats[fn.spec.name].messages_deleted == 3


def test_batch_item_failure_is_redelivered_after_visibility_timeout_then_goes_to_dlq(
    sqs, make_queue, toy, run
):
    # Given a queue with a 1 s visibility timeout that redrives to a DLQ after 2 receives
    queue = make_queue(visibility_timeout=1, max_receive_count=2)
    send(sqs, queue, "good", "bad")
    fn = toy(PARTIAL)

    # When a mapping with ReportBatchItemFailures processes both
    run(fn, SqsMapping(queue.url, batch_size=10, maximum_concurrency=1, report_batch_item_failures=True))
    dead = wait_until(lambda: sqs.receive_message(QueueUrl=queue.dlq_url, WaitTimeSeconds=1).get("Messages"))

    # Then "good" was deleted after one delivery; "bad" came back only after the visibility timeout,
    # twice, and then landed in the DLQ
    calls = fn.calls()
    assert [c["count"] for c in calls if c["body"] == "good"] == ["1"]
    bad = [c for c in calls if c["body"] == "bad"]
    assert [c["count"] for c in bad] == ["1", "2"]
    assert bad[1]["at"] - bad[0]["at"] >= 0.9
    assert [m["Body"] for m in dead] == ["bad"]
    assert queue_depth(sqs, queue.url) == (0, 0)


def test_handler_error_keeps_the_whole_batch(sqs, make_queue, toy, run):
    # Given two messages in one batch and a handler that raises on one of them
    queue = make_queue(visibility_timeout=1)
    send(sqs, queue, "good", "bad")
    body = (
        RECORDING
        + """
    first = [r for r in event["Records"] if r["attributes"]["ApproximateReceiveCount"] == "1"]
    if any(r["body"] == "bad" for r in first):
        raise RuntimeError("one bad record")
"""
    )
    fn = toy(body)

    # When the mapping (without ReportBatchItemFailures) processes them
    runtime = run(fn, SqsMapping(queue.url, batch_size=10, maximum_concurrency=1))
    wait_until(lambda: queue_depth(sqs, queue.url) == (0, 0) and len(fn.calls()) == 4)

    # Then both messages were delivered again, not only the bad one
    assert sorted((c["body"], c["count"]) for c in fn.calls()) == [
        ("bad", "1"),
        ("bad", "2"),
        ("good", "1"),
        ("good", "2"),
    ]
    assert runtime.stats[fn.spec.name].errors == 1


def test_timed_out_invocation_leaves_message_for_redelivery_in_a_fresh_worker(
    sqs, make_queue, toy, run, logs
):
    # Given a 1 s function that hangs on the first delivery
    queue = make_queue(visibility_timeout=2)
    send(sqs, queue, "slow")
    body = (
        RECORDING
        + """
    if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
        time.sleep(30)
"""
    )
    fn = toy(body, timeout=1.0)

    # When the mapping delivers it
    run(fn, SqsMapping(queue.url, batch_size=1, maximum_concurrency=1))
    wait_until(lambda: queue_depth(sqs, queue.url) == (0, 0) and len(fn.calls()) == 2)

    # Then the first attempt timed out, its worker was ended, and the message came back to a cold worker
    first, second = fn.calls()
    assert (first["count"], second["count"]) == ("1", "2")
    assert first["pid"] != second["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)
    assert any(line.endswith("Task timed out after 1.00 seconds") for line in logs.text())
    assert ["Init Duration" in line for line in logs.reports()] == [True, True]


def test_concurrency_is_bounded_by_maximum_concurrency(sqs, make_queue, toy, run, tmp_path):
    # Given six messages and a function that counts how many copies of itself run at once, and lingers
    # (bounded) until it has company, so a slow cold start of the second worker cannot hide the overlap
    queue = make_queue(visibility_timeout=60)
    send(sqs, queue, *[f"m{n}" for n in range(6)])
    counter = tmp_path / "running"
    counter.write_text("0 0")
    body = """
    def change(delta):
        with open(os.environ["COUNTER"], "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            running, peak = map(int, f.read().split())
            running += delta
            f.seek(0); f.truncate(); f.write(f"{running} {max(peak, running)}")
            return running

    def lambda_handler(event, context):
        running = change(+1)
        deadline = time.monotonic() + 10
        while running < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            running = change(0)
        time.sleep(0.2)
        change(-1)
        record(body=event["Records"][0]["body"])
    """
    fn = toy(body, timeout=30, environment={"COUNTER": str(counter)})

    # When a mapping with MaximumConcurrency 2 and batch size 1 drains the queue
    run(fn, SqsMapping(queue.url, batch_size=1, maximum_concurrency=2))
    wait_until(lambda: len(fn.calls()) == 6, timeout=60)

    # Then never more than two, but two, invocations ran at the same time
    assert counter.read_text().split()[1] == "2"


def test_stop_ends_every_worker_promptly_even_mid_invocation(sqs, make_queue, toy, settings, logs):
    # Given a running mapping whose two workers are busy with long invocations
    queue = make_queue(visibility_timeout=30)
    send(sqs, queue, "a", "b")
    fn = toy(RECORDING + "    time.sleep(60)\n", timeout=120)
    runtime = Runtime(
        [(fn.spec, SqsMapping(queue.url, batch_size=1, maximum_concurrency=2))], settings, sink=logs
    )
    runtime.start()
    try:
        wait_until(lambda: len(fn.calls()) == 2)
        pids = runtime.worker_pids()
    finally:
        # When the runtime stops
        started = time.monotonic()
        runtime.stop()

    # Then it returned long before the invocations would have ended, and no worker process is left
    assert time.monotonic() - started < 15
    assert sorted(pids) == sorted(call["pid"] for call in fn.calls())
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert runtime.worker_pids() == []


SHARED = Path(__file__).resolve().parents[2] / "shared"  # the layer: lassodrop and what it needs

# Fails every record the way AudioLasso being down does, through the functions' own batch processor, whose
# backoff here is 1 s per receive so the test runs in seconds.
BACKING_OFF = """
from aws_lambda_powertools.utilities.batch import process_partial_response
import boto3
from lassodrop.audiolasso.errors import ConnectionFailedError
from lassodrop.redelivery import BackoffBatchProcessor

processor = BackoffBatchProcessor(lambda: boto3.client("sqs"), delay=lambda count: 1)
write = record  # Powertools passes the record as `record=`, which would hide the prelude's helper

def handle(record):
    count = record.attributes.approximate_receive_count
    write(body=record.body, count=count, at=time.time())
    if count == "1":
        raise ConnectionFailedError("connection refused")
    return "ok"

def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
"""


def test_a_visibility_the_function_set_decides_when_a_failed_message_comes_back(sqs, make_queue, toy, run):
    # Given a queue hiding a received message for 30 s, and a function that fails it transiently, setting
    # the message's own visibility to 1 s
    queue = make_queue(visibility_timeout=30)
    send(sqs, queue, "offline")
    fn = toy(BACKING_OFF, timeout=10, environment={"AWS_DEFAULT_REGION": "us-east-1"}, layers=(SHARED,))

    # When the mapping delivers it
    run(fn, SqsMapping(queue.url, batch_size=1, report_batch_item_failures=True))

    # Then it is received again after that 1 s, well before the queue's 30 s, and then deleted
    wait_until(lambda: len(fn.calls()) == 2 and queue_depth(sqs, queue.url) == (0, 0), timeout=15)
    first, second = fn.calls()
    assert [first["count"], second["count"]] == ["1", "2"]
    assert 0.9 <= second["at"] - first["at"] < 10
