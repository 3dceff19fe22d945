"""Where the commands find the pipeline: a deployed stack's outputs, or a running `lassodrop up`."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.aws import MotoServer
from tests.ops.conftest import Pipeline, write_state


def test_stack_resolves_everything_from_its_cloudformation_outputs(
    pipeline: Pipeline, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a failed file in the stack, reachable as a deployed stack at moto's server (as AWS_ENDPOINT_URL
    # points the AWS CLI elsewhere), and no local state at all
    pipeline.emulator.state.fail_next_jobs(1)
    pipeline.drop("remote.wav")
    pipeline.process()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("LASSODROP_STATE_DIR", "/nonexistent")
    stack = ("--stack", pipeline.stack.info.stack_name, "--region", "us-east-1")

    # When status, ls, retry and redrive run against it
    status = pipeline.cli("status", f"s3://{pipeline.bucket}/remote.wav", *stack, "--json")
    listed = pipeline.cli("ls", "--status", "FAILED", *stack, "--json")
    retried = pipeline.cli("retry", "--status", "FAILED", *stack, "--json")
    redriven = pipeline.cli("redrive", *stack, "--json")
    pipeline.process()

    # Then each found the table and queues through the outputs
    assert [row["status"] for row in status.json] == ["FAILED"]
    assert listed.json["counts"] == {"FAILED": 1}
    assert [o["action"] for o in retried.json] == ["reopened"]
    assert redriven.json == {"moved": {"ingest": 0, "check": 0}}
    [row] = pipeline.rows()
    assert row.status == "COMPLETED"


def test_an_unknown_stack_exits_1(
    pipeline: Pipeline, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)

    result = pipeline.cli("ls", "--stack", "no-such-stack", "--region", "us-east-1")

    assert result.code == 1
    assert "no-such-stack" in result.err


def test_local_without_a_running_up_says_so(
    pipeline: Pipeline, moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no state file, then one whose process has ended
    monkeypatch.setenv("LASSODROP_STATE_DIR", str(tmp_path / "empty"))
    missing = pipeline.cli("ls", "--local")
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    write_state(tmp_path / "ended", pipeline.stack, moto_server.endpoint_url, int(ended.stdout))
    monkeypatch.setenv("LASSODROP_STATE_DIR", str(tmp_path / "ended"))
    dead = pipeline.cli("ls", "--local")

    # Then both exit 1 and say there is no running `lassodrop up`
    assert (missing.code, dead.code) == (1, 1)
    assert "no running `lassodrop up`" in missing.err
    assert "has ended" in dead.err


def test_local_and_stack_together_is_a_usage_error(pipeline: Pipeline) -> None:
    with pytest.raises(SystemExit) as exit_:
        pipeline.cli("ls", "--local", "--stack", "x")
    assert exit_.value.code == 2
