"""Fixtures for the local runtime: a moto server the workers can reach, toy functions, a log collector."""

import json
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from lassodrop_local.runner import FunctionSpec, SandboxSettings
from tests.fixtures.aws import MotoServer
from tests.runner.helpers import LogLines, Queues, Toy

# Every toy function can record what it saw; appends are locked because several workers share the file.
_PRELUDE = """\
import fcntl, json, os, sys, time

def record(**data):
    with open(os.environ["RECORD_FILE"], "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(data) + "\\n")

"""


@pytest.fixture
def moto_endpoint(moto_server: MotoServer) -> str:
    """moto as a real server on loopback: workers are other processes, so `mock_aws` cannot reach them."""
    return moto_server.endpoint_url


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def settings(moto_endpoint: str) -> SandboxSettings:
    return SandboxSettings(endpoint_url=moto_endpoint)


@pytest.fixture
def logs() -> LogLines:
    return LogLines()


ToyFactory = Callable[..., Toy]


@pytest.fixture
def toy(tmp_path: Path) -> ToyFactory:
    def make(
        body: str,
        *,
        timeout: float = 3.0,
        memory_size: int = 128,
        environment: dict[str, str] | None = None,
        layers: tuple[Path, ...] = (),
    ) -> Toy:
        code_dir = tmp_path / f"fn-{uuid.uuid4().hex[:8]}"
        code_dir.mkdir()
        (code_dir / "app.py").write_text(_PRELUDE + textwrap.dedent(body))
        record_file = code_dir / "calls.jsonl"
        spec = FunctionSpec(
            name=f"toy-{code_dir.name}",
            code_dir=code_dir,
            handler="app.lambda_handler",
            layers=layers,
            environment={"RECORD_FILE": str(record_file), **(environment or {})},
            timeout=timeout,
            memory_size=memory_size,
        )
        return Toy(spec, record_file)

    return make


@pytest.fixture
def make_queue(sqs: Any) -> Callable[..., Queues]:
    def make(visibility_timeout: int = 1, max_receive_count: int | None = None) -> Queues:
        name = f"q-{uuid.uuid4().hex[:8]}"
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        dlq_url = None
        if max_receive_count is not None:
            dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": max_receive_count}
            )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Queues(url, arn, dlq_url)

    return make
