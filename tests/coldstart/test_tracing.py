"""Tracing stays available where it is on, and costs nothing at import where it is off.

Each case runs a function's handler module in a fresh interpreter with the environment template.yaml's stack
gives it plus what Lambda sets (lassodrop_local.bench.coldstart), because whether the tracer is on is decided
once, at import.
"""

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lassodrop_local.bench.coldstart import function_configs, lambda_environment
from lassodrop_local.stack import FunctionConfig
from lassodrop_local.template import REPO_ROOT

INVOKE = Path(__file__).with_name("invoke.py")
TEST_EVENT = REPO_ROOT / "events" / "sqs-s3-test-event.json"
TRACE_ID = "1-6745a1b2-fedcba9876543210fedcba98"


@pytest.fixture(scope="module")
def functions() -> dict[str, FunctionConfig]:
    return {function.logical_id: function for function in function_configs()}


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A loopback UDP socket where the X-Ray daemon would listen in Lambda."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5.0)
        yield receiver


def _run(function: FunctionConfig, environment: dict[str, str], event: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, str(INVOKE), function.handler, *([str(event)] if event else [])]
    result = subprocess.run(
        command,
        env=environment,
        cwd=function.code_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _segments(receiver: socket.socket) -> list[dict[str, Any]]:
    """Every (sub)segment document received: a JSON header line, then the document, per datagram."""
    documents = []
    try:
        for _ in range(100):
            _header, _, document = receiver.recv(65536).decode().partition("\n")
            documents.append(json.loads(document))
            receiver.settimeout(0.5)
    except TimeoutError:
        pass
    return documents


def test_with_tracing_on_the_handler_sends_its_subsegment_to_the_daemon(functions, daemon):
    # Given: the ingest function as Lambda runs it with Tracing: Active, in a sampled trace
    function = functions["IngestFunction"]
    environment = lambda_environment(function, "on")
    environment["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{daemon.getsockname()[1]}"
    environment["_X_AMZN_TRACE_ID"] = f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1"

    # When: the handler is imported and invoked on the S3 test event
    report = _run(function, environment, TEST_EVENT)

    # Then: the X-Ray recorder and its botocore patch were loaded at import, and the handler's subsegment
    # reached the daemon in the invocation's trace
    assert report["result"] == {"batchItemFailures": []}
    assert {"aws_xray_sdk.core", "aws_xray_sdk.ext.botocore.patch"} <= set(
        report["xray_modules_after_import"]
    )
    handler_segments = [s for s in _segments(daemon) if s["name"] == "## lambda_handler"]
    assert len(handler_segments) == 1
    assert handler_segments[0]["trace_id"] == TRACE_ID
    assert handler_segments[0]["annotations"]["ColdStart"] is True


def test_with_tracing_disabled_the_captured_handler_still_answers(functions, daemon):
    # Given: the ingest function with tracing disabled, a daemon listening all the same
    function = functions["IngestFunction"]
    environment = lambda_environment(function, "off")
    environment["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{daemon.getsockname()[1]}"
    environment["_X_AMZN_TRACE_ID"] = f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1"

    # When: the handler is invoked on the S3 test event
    report = _run(function, environment, TEST_EVENT)

    # Then: it answers as with tracing on, and nothing is sent to the daemon
    assert report["result"] == {"batchItemFailures": []}
    daemon.settimeout(0.5)
    assert _segments(daemon) == []
