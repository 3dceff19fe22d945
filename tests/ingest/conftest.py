"""Ingest test harness: AWS in moto, AudioLasso as the emulator on loopback, the real handler in between.

Objects reach the handler the way they do when deployed: `put_object` in the input bucket, moto's S3 -> SQS
notification, the message received from the ingest queue and handed over as a Lambda SQS event.
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from lassodrop.ingest.service import IngestService
from lassodrop.jobs import Job, JobStore, Status, object_id_for
from lassodrop.observability import metrics
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.aws import AwsStack, CallRecorder, SendRecorder, drain
from tests.fixtures.events import received_sqs_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler

PROMPT = "isolate the lead vocal"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Stack:
    """The AWS side of the ingest function (the resources its template section names)."""

    s3: Any
    sqs: Any
    table: Any
    ingest_queue_url: str
    ingest_queue_arn: str
    check_queue_url: str
    secret_arn: str
    bucket: str
    events_queue_url: str
    template_env: dict[str, str] = field(default_factory=dict)

    def drop(self, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)

    def receive_ingest(self, expected: int = 1) -> dict[str, Any]:
        """The messages S3 put on the ingest queue, as the Lambda SQS event the function would receive."""
        messages: list[dict[str, Any]] = []
        while len(messages) < expected:
            got = self.sqs.receive_message(
                QueueUrl=self.ingest_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        assert len(messages) == expected, f"expected {expected} S3 notifications, got {len(messages)}"
        return received_sqs_event(messages, self.ingest_queue_arn)

    def check_messages(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.check_queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    def published_events(self) -> list[dict[str, Any]]:
        """The "lassodrop" events put on the bus so far (each as EventBridge delivers it)."""
        return [json.loads(message["Body"]) for message in drain(self.sqs, self.events_queue_url)]

    def jobs(self) -> JobStore:
        return JobStore(self.table)

    def rows(self) -> list[Job]:
        return [Job.from_item(item) for item in self.table.scan()["Items"]]

    def put_stale_upload_row(self, key: str, put: dict[str, Any], lease_until: int, **extra: Any) -> str:
        """The UPLOADING row a worker leaves behind when it dies mid-upload (plus `extra` attributes)."""
        object_id = object_id_for(self.bucket, key, etag=put["ETag"])
        row = Job(
            object_id=object_id,
            status=Status.UPLOADING,
            bucket=self.bucket,
            key=key,
            source_uri=f"s3://{self.bucket}/{key}",
            created_at="2026-11-24T00:00:00.000Z",
            attempts=1,
            lease_until=lease_until,
            **extra,
        )
        self.table.put_item(Item=row.to_item())
        return object_id


PREFIX_PROMPTS = {"talks/": "keep the speaker", "talks/panel/": "keep the moderator"}


@pytest.fixture
def aws_stack_parameters() -> Mapping[str, str]:
    return {"PrefixPrompts": json.dumps(PREFIX_PROMPTS)}


@pytest.fixture
def stack(aws_stack: AwsStack) -> Stack:
    """template.yaml's stack in moto (input bucket versioned and wired to the ingest queue, as deployed)."""
    info = aws_stack.info
    ingest_url = info.queues["IngestQueue"].url
    aws_stack.sqs.purge_queue(QueueUrl=ingest_url)  # drop the s3:TestEvent the bucket wiring sent
    env = dict(info.functions["IngestFunction"].environment)
    return Stack(
        s3=aws_stack.s3,
        sqs=aws_stack.sqs,
        table=boto3.resource("dynamodb").Table(info.jobs_table),
        ingest_queue_url=ingest_url,
        ingest_queue_arn=info.queues["IngestQueue"].arn,
        check_queue_url=info.queues["CheckQueue"].url,
        secret_arn=info.api_key_secret_arn,
        bucket=info.input_bucket,
        events_queue_url=aws_stack.capture_events(env["EVENT_BUS_NAME"]),
        template_env=env,
    )


@pytest.fixture(autouse=True)
def _fresh_process_state(sleeps: list[float]) -> Iterator[None]:
    """What a new execution environment would start with: no cached secret, no pending metrics, no waits."""
    parameters.clear_caches()
    metrics.clear_metrics()
    yield
    parameters.clear_caches()
    metrics.clear_metrics()


@dataclass
class Ingest:
    """The deployed handler, configured from its environment like in Lambda."""

    module: ModuleType
    env: dict[str, str]
    get_object_calls: list[dict[str, Any]] = field(default_factory=list)
    sent_checks: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.module.lambda_handler(event, FakeLambdaContext("lassodrop-ingest"))

    @property
    def service(self) -> IngestService:
        return self.module.get_service()

    def count_get_object(self) -> None:
        """Record every GetObject the function makes (its arguments)."""
        self.get_object_calls = CallRecorder(self.service.objects.client, "GetObject").calls

    def record_check_sends(self) -> None:
        """Record the SendMessage calls to the check queue (their DelaySeconds is not visible on receive)."""
        self.sent_checks = SendRecorder(self.service.checks.sqs).calls


@pytest.fixture
def ingest_env(stack: Stack, emulator: EmulatorServer) -> dict[str, str]:
    """The ingest function's environment exactly as the template resolves it, pointed at the emulator."""
    return {
        **stack.template_env,
        "AUDIOLASSO_BASE_URL": emulator.base_url,
        "AUDIOLASSO_ALLOW_LOCAL": "true",  # what the local stack sets
        "FIRST_CHECK_DELAY_SECONDS": "0",  # moto honours delays; tests that check the delay set their own
    }


@pytest.fixture
def make_ingest(ingest_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ingest]:
    def make(**overrides: str) -> Ingest:
        env = {**ingest_env, **overrides}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Ingest(load_handler("ingest"), env)

    return make


@pytest.fixture
def ingest(make_ingest: Callable[..., Ingest]) -> Ingest:
    return make_ingest()
