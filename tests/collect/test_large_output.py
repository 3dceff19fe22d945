"""A large output goes through with flat memory.

S3 here is a moto server in its own process: in-process moto assembles a multipart upload in memory, which
tracemalloc would count against collect.
"""

import hashlib
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from lassodrop.collect.outputs import MIB
from lassodrop.messages import CheckMessage
from tests.collect.conftest import Pipeline
from tests.fixtures.audio import pcm_wav

OUTPUT_BYTES = 48 * MIB


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def remote_s3() -> Iterator[Any]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield boto3.client("s3", endpoint_url=endpoint)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_large_output_is_streamed_with_bounded_memory(pipeline: Pipeline, remote_s3: Any) -> None:
    # Given a job whose target is a 48 MiB WAV
    audio = pcm_wav(OUTPUT_BYTES // 4, channels=2)
    object_id = pipeline.drop("long/live take.wav", audio)
    expected_sha = hashlib.sha256(audio).hexdigest()
    del audio
    remote_s3.create_bucket(Bucket=pipeline.stack.output_bucket)
    collector = pipeline.collector(s3=remote_s3)

    # When collect copies it (5 MiB parts, two in flight)
    tracemalloc.start()
    try:
        outcome = collector.handle(CheckMessage(object_id, None, "poll"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Then both stems landed whole while memory stayed well under the output's size
    assert outcome == "COMPLETED"
    target = pipeline.row(object_id)["outputs"]["target"]
    assert target["sha256"] == expected_sha
    target_key = f"{pipeline.folder(object_id)}target.wav"
    head = remote_s3.head_object(Bucket=pipeline.stack.output_bucket, Key=target_key)
    assert head["ContentLength"] == target["size"] > OUTPUT_BYTES
    assert pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket)["KeyCount"] == 0
    print(
        f"collect peak traced memory: {peak / MIB:.1f} MiB for {2 * target['size'] / MIB:.0f} MiB of outputs"
    )
    # Three 5 MiB parts in memory plus botocore's copies and buffers measured 16-26 MiB across runs; holding
    # one output whole would take more than 48 MiB on its own.
    assert peak < 32 * MIB < OUTPUT_BYTES, f"peak {peak / MIB:.1f} MiB"
