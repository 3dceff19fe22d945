"""A moto-backed stack, the emulator on loopback, and jobs left in the state ingest leaves them."""

import dataclasses
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from lassodrop.audiolasso import AudioLassoClient
from lassodrop.collect.config import CollectConfig
from lassodrop.collect.outputs import MIB, transfer_config
from lassodrop.collect.service import Collector
from lassodrop.events import EventPublisher
from lassodrop.jobs import JobStore, ObjectDetails
from lassodrop.jobs.breaker import BreakerStore
from lassodrop.messages import CheckQueue
from lassodrop.timestamps import utcnow
from lassodrop.waiting import Pauses
from lassodrop_local.emulator.server import EmulatorServer
from tests.fixtures.audio import pcm_wav
from tests.fixtures.aws import AwsStack, SendRecorder, drain

OUTPUT_PREFIX = "stems/"
WEBHOOK_BASE_URL = "https://webhook.lambda-url.us-east-1.on.aws/"


@pytest.fixture(autouse=True)
def _no_client_backoff(sleeps: list[float]) -> None:
    """Collect's tests never wait out the client's retry delays."""


@dataclass
class Stack:
    """template.yaml's stack in moto, plus an EventBridge rule on the bus that copies our events to SQS."""

    s3: Any
    sqs: Any
    table: Any
    input_bucket: str
    output_bucket: str
    check_queue_url: str
    events_queue_url: str
    collect_env: dict[str, str]
    sent: SendRecorder
    published: list[dict[str, Any]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        """Events delivered so far (each read once; accumulated across calls)."""
        self.published.extend(json.loads(m["Body"]) for m in drain(self.sqs, self.events_queue_url))
        return self.published


@pytest.fixture
def aws_stack_parameters() -> dict[str, str]:
    return {"OutputPrefix": OUTPUT_PREFIX, "EnableWebhooks": "true"}


@pytest.fixture
def stack(aws_stack: AwsStack) -> Stack:
    info = aws_stack.info
    env = dict(info.functions["CollectFunction"].environment)
    sqs = aws_stack.sqs
    events_queue_url = aws_stack.capture_events(env["EVENT_BUS_NAME"])
    return Stack(
        s3=aws_stack.s3,
        sqs=sqs,
        table=boto3.resource("dynamodb").Table(info.jobs_table),
        input_bucket=info.input_bucket,
        output_bucket=info.output_bucket,
        check_queue_url=info.queues["CheckQueue"].url,
        events_queue_url=events_queue_url,
        collect_env=env,
        sent=SendRecorder(sqs),
    )


def collect_config(stack: Stack, base_url: str, **overrides: Any) -> CollectConfig:
    """The collect function's configuration exactly as the template sets it, pointed at the emulator."""
    env = {**stack.collect_env, "AUDIOLASSO_BASE_URL": base_url, "AUDIOLASSO_ALLOW_LOCAL": "true"}
    return dataclasses.replace(CollectConfig.from_env(env), **{"give_up_after_seconds": 3600, **overrides})


@dataclass
class Pipeline:
    stack: Stack
    emulator: EmulatorServer
    client: AudioLassoClient
    store: JobStore

    def drop(
        self,
        key: str,
        data: bytes | None = None,
        prompt: str = "isolate the lead vocal",
        *,
        webhook: bool = True,
    ) -> str:
        """Put an object in the input bucket, relay it to the emulator and submit, as ingest does.

        Returns the job's object id; the row is SUBMITTED with request_id, status_url, result_url, webhook
        id (its pointer written) and token.
        """
        body = pcm_wav(4000, rate=8000) if data is None else data
        put = self.stack.s3.put_object(
            Bucket=self.stack.input_bucket, Key=key, Body=body, ContentType="audio/wav"
        )
        return self.submit_object(key, put["VersionId"], len(body), prompt, webhook=webhook)

    def submit_object(
        self, key: str, version_id: str, size: int, prompt: str, *, webhook: bool = True
    ) -> str:
        claim = self.store.claim_upload(
            self.stack.input_bucket, key, version_id=version_id, etag=None, lease_seconds=900, ttl_days=30
        )
        object_id = claim.job.object_id
        token, webhook_id = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        self.store.create_webhook_pointer(webhook_id, object_id, ttl_days=30)
        details = ObjectDetails(
            size=size,
            content_type="audio/wav",
            prompt=prompt,
            prompt_source="metadata",
            webhook_token=token,
            webhook_id=webhook_id,
        )
        self.store.record_details(object_id, attempt=claim.job.attempts, details=details)

        def open_source() -> Any:
            return self.stack.s3.get_object(Bucket=self.stack.input_bucket, Key=key, VersionId=version_id)[
                "Body"
            ]

        upload = self.client.upload(key.rsplit("/", 1)[-1], "audio/wav", size, open_source)
        webhook_url = f"{WEBHOOK_BASE_URL}?{urlencode({'id': webhook_id, 'token': token})}"
        submission = self.client.submit(
            prompt, file_id=upload.file_id, webhook_url=webhook_url if webhook else None
        )
        self.store.mark_submitted(
            object_id,
            file_id=upload.file_id,
            request_id=submission.request_id,
            status_url=submission.status_url,
            result_url=submission.result_url,
            stream_url=submission.stream_url,
        )
        return object_id

    def collector(
        self, clock: Callable[[], datetime] = utcnow, s3: Any = None, **overrides: Any
    ) -> Collector:
        config = collect_config(self.stack, self.emulator.base_url, **overrides)
        publisher = EventPublisher(boto3.client("events"), config.event_bus_name)
        return Collector(
            config=config,
            jobs=self.store,
            api_client=lambda: self.client,
            s3=s3 or self.stack.s3,
            checks=CheckQueue(self.stack.sqs, config.check_queue_url),
            publisher=publisher,
            pauses=Pauses(
                BreakerStore(self.stack.table, clock=lambda: clock().timestamp()),
                publisher,
                config.park_delay_seconds,
                lambda: clock().timestamp(),
            ),
            clock=clock,
            transfer=transfer_config(chunk_bytes=5 * MIB, concurrency=2),
        )

    def folder(self, object_id: str) -> str:
        """The documented output folder of a job: `<OutputPrefix><key>/<version id>/`."""
        row = self.row(object_id)
        return f"{OUTPUT_PREFIX}{row['key']}/{row['version_id']}/"

    def row(self, object_id: str) -> dict[str, Any]:
        """The row as stored (the model's one way out)."""
        job = self.store.get(object_id)
        assert job is not None
        return job.to_item()


@pytest.fixture
def pipeline(stack: Stack, emulator: EmulatorServer, api_key: str) -> Iterator[Pipeline]:
    # Jobs finish the moment they are submitted unless a test slows them down.
    emulator.state.set_timings(queue_seconds=0, run_seconds=0)
    with AudioLassoClient(api_key, emulator.base_url, allow_local=True) as client:
        yield Pipeline(stack, emulator, client, JobStore(stack.table))


@pytest.fixture
def environment(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The collect function's environment from the template, pointed at the emulator."""
    env = {
        **pipeline.stack.collect_env,
        "AUDIOLASSO_BASE_URL": pipeline.emulator.base_url,
        "AUDIOLASSO_ALLOW_LOCAL": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def check_queue_arn(pipeline: Pipeline) -> str:
    attributes = pipeline.stack.sqs.get_queue_attributes(
        QueueUrl=pipeline.stack.check_queue_url, AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])
