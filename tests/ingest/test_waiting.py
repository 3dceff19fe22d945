"""Account trouble at AudioLasso (401, 402, 403) pauses files through the deployed handler, never fails them.

The files' rows wait, their messages are parked on the ingest queue (moto honours the delay, so each round
waits it out for real: PARK_DELAY_SECONDS is 1 here), one probe at a time asks AudioLasso, and once the
account is fixed every file goes on from where it stopped: no re-upload, no redrive, one event each way.
"""

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from lassodrop.jobs import Job, Status, Step, WaitingFor
from lassodrop.jobs.breaker import BREAKER_ID
from lassodrop_local.emulator import EmulatorServer
from lassodrop_local.emulator.state import ALL_SCOPES
from tests.fixtures.audio import riff_blob
from tests.fixtures.aws import AwsStack, drain
from tests.fixtures.events import received_sqs_event
from tests.ingest.conftest import Ingest, Stack

PARK_DELAY = 1
# Rounds of parked deliveries to wait for a probe: the probe lease is counted in whole epoch seconds.
MAX_ROUNDS = 6


@dataclass
class Bus:
    """Our events on the stack's bus, copied to a queue by a rule (each read once, accumulated)."""

    sqs: Any
    queue_url: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    def events(self, detail_type: str) -> list[dict[str, Any]]:
        self.seen.extend(json.loads(m["Body"]) for m in drain(self.sqs, self.queue_url))
        return [event["detail"] for event in self.seen if event["detail-type"] == detail_type]


@pytest.fixture
def bus(aws_stack: AwsStack, stack: Stack) -> Bus:
    name = stack.template_env["EVENT_BUS_NAME"]
    url = aws_stack.sqs.create_queue(QueueName="bus-capture")["QueueUrl"]
    arn = aws_stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws_stack.events.put_rule(Name="capture", EventBusName=name, EventPattern='{"source": ["lassodrop"]}')
    aws_stack.events.put_targets(Rule="capture", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
    return Bus(aws_stack.sqs, url)


@pytest.fixture
def ingest(make_ingest: Callable[..., Ingest]) -> Ingest:
    return make_ingest(PARK_DELAY_SECONDS=str(PARK_DELAY))


def _files(stack: Stack) -> list[Job]:
    return [row for row in stack.rows() if row.object_id != BREAKER_ID]


def _drop(stack: Stack, count: int) -> dict[str, Any]:
    for n in range(count):
        stack.drop(f"batch/take-{n}.wav", riff_blob(2048 + n), ContentType="audio/wav")
    return stack.receive_ingest(expected=count)


def _parked_round(stack: Stack, ingest: Ingest, expected: int) -> int:
    """Wait for the parked messages, deliver them, and return how many arrived (each received once only)."""
    deadline = time.monotonic() + PARK_DELAY + 3
    messages: list[dict[str, Any]] = []
    while len(messages) < expected and time.monotonic() < deadline:
        got = stack.sqs.receive_message(
            QueueUrl=stack.ingest_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        messages.extend(got)
        if not got:
            time.sleep(0.2)
    assert len(messages) == expected, f"expected {expected} parked messages, got {len(messages)}"
    # A parked message is a new message every time: it never builds up receives towards the DLQ.
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {"1"}
    for message in messages:
        stack.sqs.delete_message(QueueUrl=stack.ingest_queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert ingest(received_sqs_event(messages, stack.ingest_queue_arn)) == {"batchItemFailures": []}
    return len(messages)


def _until_all_submitted(stack: Stack, ingest: Ingest, waiting: int) -> None:
    for _ in range(MAX_ROUNDS):
        _parked_round(stack, ingest, waiting)
        waiting = sum(row.status is Status.WAITING for row in _files(stack))
        if not waiting:
            return
    pytest.fail(f"{waiting} files still waiting after {MAX_ROUNDS} rounds")


def _api_calls(emulator: EmulatorServer) -> int:
    return len(emulator.state.requests)


def _calls_by_route(emulator: EmulatorServer) -> Counter[str]:
    return Counter(request.route for request in emulator.state.requests)


def _files_waiting_metric(capsys: pytest.CaptureFixture[str]) -> float:
    """The FilesWaiting count in the EMF documents the handler printed since the last call."""
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return sum(sum(document.get("FilesWaiting", [])) for document in documents)


def _revoke(emulator: EmulatorServer, key: str) -> None:
    emulator.state.revoke_key(key)


def _restore(emulator: EmulatorServer, key: str) -> None:
    emulator.state.restore_key(key)


def _narrow(emulator: EmulatorServer, key: str) -> None:
    emulator.state.set_scopes(key, ALL_SCOPES - {"files:write"})


def _widen(emulator: EmulatorServer, key: str) -> None:
    emulator.state.set_scopes(key, ALL_SCOPES)


@pytest.mark.parametrize(
    ("break_account", "fix_account", "waiting_for"),
    [(_revoke, _restore, WaitingFor.API_KEY), (_narrow, _widen, WaitingFor.PERMISSION)],
    ids=["key revoked", "scope missing"],
)
def test_files_dropped_while_the_account_is_refused_wait_then_all_go_on_once_it_is_fixed(
    stack: Stack,
    ingest: Ingest,
    emulator: EmulatorServer,
    api_key: str,
    bus: Bus,
    break_account: Callable[[EmulatorServer, str], None],
    fix_account: Callable[[EmulatorServer, str], None],
    waiting_for: WaitingFor,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an account AudioLasso refuses, and five files dropped
    break_account(emulator, api_key)
    event = _drop(stack, 5)
    capsys.readouterr()

    # When they are delivered
    response = ingest(event)

    # Then no record fails and no row fails: every file waits, saying why and in which step
    assert response == {"batchItemFailures": []}
    rows = _files(stack)
    assert {row.status for row in rows} == {Status.WAITING}
    assert {(row.waiting_for, row.waiting_step) for row in rows} == {(waiting_for, Step.UPLOAD)}
    assert all(row.waiting_message and row.waiting_since for row in rows)
    # And only the first file asked AudioLasso; the others were held by the breaker it opened
    assert _api_calls(emulator) == 1
    [waiting] = bus.events("Pipeline Waiting")
    assert (waiting["waiting_for"], waiting["files_waiting"]) == (str(waiting_for), 1)
    assert waiting["message"]
    assert waiting["reason"]
    assert _files_waiting_metric(capsys) == 5

    # When the parked messages come back twice while the account is still refused
    before = _api_calls(emulator)
    for _ in range(2):
        _parked_round(stack, ingest, 5)

    # Then at most one probe per round reached AudioLasso, still nothing failed, and no file counted twice
    assert _api_calls(emulator) - before <= 2
    assert _files_waiting_metric(capsys) == 0
    assert {row.status for row in _files(stack)} == {Status.WAITING}
    assert len(bus.events("Pipeline Waiting")) == 1

    # When the account is fixed
    fix_account(emulator, api_key)
    _until_all_submitted(stack, ingest, 5)

    # Then every file was uploaded once and submitted once, and the pipeline said so once
    assert {row.status for row in _files(stack)} == {Status.SUBMITTED}
    assert all(row.waiting_for is None for row in _files(stack))
    assert len(emulator.state.uploads) == len(emulator.state.submissions) == 5
    [resumed] = bus.events("Pipeline Resumed")
    assert resumed["files_resumed"] == 5
    assert resumed["waited_seconds"] >= 1
    assert len(bus.events("Pipeline Waiting")) == 1


def test_credits_running_out_mid_batch_pause_the_rest_and_keep_the_finished_upload(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, bus: Bus
) -> None:
    # Given credits for four jobs, and ten files dropped
    emulator.state.set_credits(4)
    event = _drop(stack, 10)

    # When they are delivered
    response = ingest(event)

    # Then four are submitted; the fifth uploaded, was refused at submit, and waits with its file; the rest
    # wait without having been sent at all
    assert response == {"batchItemFailures": []}
    rows = _files(stack)
    submitted = [row for row in rows if row.status is Status.SUBMITTED]
    waiting = [row for row in rows if row.status is Status.WAITING]
    assert (len(submitted), len(waiting)) == (4, 6)
    assert {row.waiting_for for row in waiting} == {WaitingFor.CREDITS}
    assert len([row for row in waiting if row.file_id]) == 1
    assert all(row.submit_started_at is None for row in waiting)
    assert len(emulator.state.uploads) == 5
    [opened] = bus.events("Pipeline Waiting")
    assert opened["waiting_for"] == "credits"

    # When the parked messages come back twice while the account is still empty
    before = _calls_by_route(emulator)
    _parked_round(stack, ingest, 6)
    _parked_round(stack, ingest, 6)

    # Then at most one file per round made its next step (a probe: an upload it keeps, and a submit)
    made = _calls_by_route(emulator) - before
    assert made["submit"] <= 2
    assert made["create_file"] <= 2
    assert len(emulator.state.uploads) <= 5 + 2

    # When credits are bought
    emulator.state.add_credits(10)
    _until_all_submitted(stack, ingest, 6)

    # Then all ten are submitted, the refused file with the upload it made before (no re-upload)
    assert {row.status for row in _files(stack)} == {Status.SUBMITTED}
    assert len(emulator.state.uploads) == len(emulator.state.submissions) == 10
    assert len({row.file_id for row in _files(stack)}) == 10
    [resumed] = bus.events("Pipeline Resumed")
    assert resumed["files_resumed"] == 6
    assert len(bus.events("Pipeline Waiting")) == 1


def test_a_key_corrected_in_the_secret_is_used_at_once_not_after_the_cache(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, api_key: str, bus: Bus
) -> None:
    # Given a warm function that read the key, then a rotation: AudioLasso takes only the new key, and the
    # secret holds it, while the function's cache (five minutes) still holds the old one
    ingest(_drop(stack, 1))
    emulator.state.add_key("al_rotated")
    emulator.state.revoke_key(api_key)
    boto3.client("secretsmanager").put_secret_value(SecretId=stack.secret_arn, SecretString="al_rotated")
    stack.drop("after-rotation.wav", riff_blob(4096), ContentType="audio/wav")

    # When the next file is delivered
    response = ingest(stack.receive_ingest())

    # Then it is submitted at once with the new key: nothing waited and nothing was said
    assert response == {"batchItemFailures": []}
    assert {row.status for row in _files(stack)} == {Status.SUBMITTED}
    assert len(emulator.state.submissions) == 2
    assert bus.events("Pipeline Waiting") == []


def test_a_waiting_file_probes_with_the_corrected_key_the_moment_the_secret_holds_it(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, api_key: str, bus: Bus
) -> None:
    # Given a wrong key in the secret, so the file waits
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=stack.secret_arn, SecretString="al_wrong")
    ingest(_drop(stack, 1))
    assert [row.status for row in _files(stack)] == [Status.WAITING]

    # When the key is corrected in the secret (the function still caches the wrong one)
    secrets.put_secret_value(SecretId=stack.secret_arn, SecretString=api_key)
    _until_all_submitted(stack, ingest, 1)

    # Then the file's probe re-read the secret after its 401 and went on with the corrected key
    assert [row.status for row in _files(stack)] == [Status.SUBMITTED]
    assert len(bus.events("Pipeline Resumed")) == 1
