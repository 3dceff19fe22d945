"""The stack in moto, reachable both in-process (the handlers) and over loopback HTTP (the CLI), the
emulator, and a `lassodrop up` state file pointing the CLI's `--local` at them.

moto's server shares the in-process backends of `mock_aws`, so what the handlers write the CLI reads.
"""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from lassodrop.jobs import Job, JobStore
from lassodrop.observability import metrics
from lassodrop_local.cli import main
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.fixtures.aws import AwsStack, MotoServer, drain
from tests.fixtures.events import received_sqs_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler

QUEUES = ("IngestQueue", "IngestDLQ", "CheckQueue", "CheckDLQ")
# How many receives one drive of a queue makes at most: every test's queues hold far fewer batches.
MAX_BATCHES = 100


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Pipeline:
    """The stack's resources, its functions driven by hand, and the `lassodrop` command."""

    stack: AwsStack
    emulator: EmulatorServer
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    @property
    def bucket(self) -> str:
        return self.stack.info.input_bucket

    @property
    def store(self) -> JobStore:
        return JobStore(boto3.resource("dynamodb").Table(self.stack.info.jobs_table))

    def url(self, queue: str) -> str:
        return self.stack.info.queues[queue].url

    def drop(self, key: str, body: bytes | None = None, content_type: str = "audio/wav") -> dict[str, Any]:
        return self.stack.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body or riff_blob(2048), ContentType=content_type
        )

    def discard_notifications(self) -> int:
        """Drop what S3 announced on the ingest queue, as if the objects predated the notification."""
        return len(drain(self.stack.sqs, self.url("IngestQueue")))

    def rows(self) -> list[Job]:
        table = boto3.resource("dynamodb").Table(self.stack.info.jobs_table)
        return [Job.from_item(item) for item in table.scan()["Items"]]

    def cli(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ingest(self, *, at_most: int | None = None) -> int:
        """Deliver the ingest queue's messages to the ingest function as Lambda would; how many."""
        env = {
            **self.stack.info.functions["IngestFunction"].environment,
            "AUDIOLASSO_BASE_URL": self.emulator.base_url,
            "AUDIOLASSO_ALLOW_LOCAL": "true",
            "FIRST_CHECK_DELAY_SECONDS": "0",
        }
        return self._deliver("IngestQueue", "ingest", env, at_most)

    def collect(self) -> int:
        env = {
            **self.stack.info.functions["CollectFunction"].environment,
            "AUDIOLASSO_BASE_URL": self.emulator.base_url,
            "AUDIOLASSO_ALLOW_LOCAL": "true",
        }
        return self._deliver("CheckQueue", "collect", env, None)

    def process(self) -> None:
        """Ingest, then collect, everything queued."""
        self.ingest()
        self.collect()

    def _deliver(self, queue: str, function: str, env: dict[str, str], at_most: int | None) -> int:
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        parameters.clear_caches()
        metrics.clear_metrics()
        handler = load_handler(function)
        sqs, url, arn = self.stack.sqs, self.url(queue), self.stack.info.queues[queue].arn
        delivered = 0
        for _ in range(MAX_BATCHES):
            wanted = 10 if at_most is None else min(10, at_most - delivered)
            if wanted <= 0:
                break
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=wanted, AttributeNames=["All"]).get(
                "Messages", []
            )
            if not batch:
                break
            result = handler.lambda_handler(received_sqs_event(batch, arn), FakeLambdaContext(function))
            assert result == {"batchItemFailures": []}, result
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            delivered += len(batch)
        return delivered


def write_state(path: Path, stack: AwsStack, endpoint_url: str, pid: int) -> None:
    """The state file `lassodrop up` writes."""
    info = stack.info
    path.mkdir(parents=True, exist_ok=True)
    state = {
        "aws_endpoint_url": endpoint_url,
        "region": info.region,
        "input_bucket": info.input_bucket,
        "output_bucket": info.output_bucket,
        "jobs_table": info.jobs_table,
        "emulator_url": "http://127.0.0.1:1",
        "stack_name": info.stack_name,
        "pid": pid,
        "queues": {name: info.queues[name].url for name in QUEUES},
    }
    (path / "up.json").write_text(json.dumps(state), encoding="utf-8")


@pytest.fixture
def pipeline(
    aws_stack: AwsStack,
    moto_server: MotoServer,
    emulator: EmulatorServer,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Iterator[Pipeline]:
    """Files dropped into the stack are announced on the ingest queue; jobs at the emulator end at once."""
    drain(aws_stack.sqs, aws_stack.info.queues["IngestQueue"].url)  # the s3:TestEvent
    emulator.state.set_timings(queue_seconds=0, run_seconds=0)
    write_state(tmp_path / "state", aws_stack, moto_server.endpoint_url, os.getpid())
    monkeypatch.setenv("LASSODROP_STATE_DIR", str(tmp_path / "state"))
    return Pipeline(aws_stack, emulator, monkeypatch, capsys)
