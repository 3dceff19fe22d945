"""`lassodrop up` end to end: the console script as a service, driven the way a script would drive it."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.fixtures.audio import pcm_wav
from tests.runner.helpers import wait_until
from tests.runner.test_cli import descendants, still_running

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).with_name("lassodrop")
STATE_KEYS = {
    "aws_endpoint_url",
    "region",
    "input_bucket",
    "output_bucket",
    "jobs_table",
    "emulator_url",
    "stack_name",
    "pid",
    "queues",
}
READY_SECONDS = 120
FLOW_SECONDS = 120
STOP_SECONDS = 30
PROMPT = "isolate the tone"


@dataclass
class Up:
    """A running `lassodrop up --json`, its first stdout line parsed, and where its state file is."""

    process: subprocess.Popen[str]
    state: dict[str, Any]
    state_file: Path
    stderr: Path
    lines: "queue.Queue[str]"
    reader: threading.Thread

    def client(self, service: str) -> Any:
        # Credentials of its own, as any outside client has: the stack must not depend on them.
        return boto3.client(
            service,
            endpoint_url=self.state["aws_endpoint_url"],
            region_name=self.state["region"],
            aws_access_key_id="outside",
            aws_secret_access_key="outside",
        )

    def stop(self, signum: int) -> int:
        os.kill(self.process.pid, signum)
        return self.process.wait(timeout=STOP_SECONDS)

    def rest_of_stdout(self) -> str:
        """What it printed after the JSON line, once it has exited."""
        self.reader.join(timeout=10)
        assert not self.reader.is_alive(), "stdout is still open"
        return "".join(iter(self.lines.get_nowait, ""))


def ops(up: Any, *args: str) -> str:
    """One operations command against the running `up`, as a user runs it; its standard output."""
    done = subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=up_environment(up.state_file.parent),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def up_environment(state_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUDIOLASSO_")}
    return {**env, "LASSODROP_STATE_DIR": str(state_dir)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_up(state_dir: Path, stderr: Path, port: int) -> subprocess.Popen[str]:
    with stderr.open("w") as errors:
        return subprocess.Popen(
            [str(SCRIPT), "up", "--json", "--prompt", PROMPT, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=up_environment(state_dir),
            start_new_session=True,
        )


def read_lines(stream: Any, lines: "queue.Queue[str]") -> None:
    for line in stream:
        lines.put(line)
    lines.put("")  # end of output


@pytest.fixture
def running_up(tmp_path: Path) -> Iterator[Up]:
    assert SCRIPT.is_file(), f"console script missing: {SCRIPT}"
    state_dir, stderr = tmp_path / "state", tmp_path / "up-stderr.txt"
    port = free_port()
    process = start_up(state_dir, stderr, port)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    workers: dict[int, str] = {}
    try:
        try:
            first = lines.get(timeout=READY_SECONDS)
        except queue.Empty:
            pytest.fail(f"no JSON line within {READY_SECONDS} s:\n{stderr.read_text()}")
        assert first, f"exited before it was ready:\n{stderr.read_text()}"
        up = Up(process, json.loads(first), state_dir / "up.json", stderr, lines, reader)
        assert up.state["aws_endpoint_url"] == f"http://127.0.0.1:{port}"
        yield up
    finally:
        if process.poll() is None:
            workers = descendants(process.pid)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        for pid in still_running(workers):
            os.kill(pid, signal.SIGKILL)


def job_rows(up: Up) -> dict[str, dict[str, Any]]:
    """The jobs table's rows by object key."""
    items = up.client("dynamodb").scan(TableName=up.state["jobs_table"])["Items"]
    return {item["key"]["S"]: item for item in items}


def settled(up: Up, expected: dict[str, str]) -> dict[str, dict[str, Any]] | None:
    rows = job_rows(up)
    statuses = {key: row["status"]["S"] for key, row in rows.items()}
    return rows if all(statuses.get(key) == status for key, status in expected.items()) else None


def test_files_put_by_any_s3_client_flow_through_until_sigint_which_removes_the_state_file(running_up):
    up = running_up
    # Given `up` announced itself on one JSON line, the same as its state file says
    assert set(up.state) == STATE_KEYS
    assert set(up.state["queues"]) == {"IngestQueue", "IngestDLQ", "CheckQueue", "CheckDLQ"}
    assert up.state["pid"] == up.process.pid
    assert up.state["emulator_url"].startswith("http://127.0.0.1:")
    assert json.loads(up.state_file.read_text()) == up.state

    # When a client of its own puts a WAV, a text file and an empty file into the input bucket
    wav = pcm_wav()
    s3 = up.client("s3")
    bucket = up.state["input_bucket"]
    s3.put_object(Bucket=bucket, Key="song.wav", Body=wav)
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"not audio at all\n", ContentType="text/plain")
    s3.put_object(Bucket=bucket, Key="empty.wav", Body=b"")

    # Then the WAV completes and the others are rejected, each with its code
    expected = {"song.wav": "COMPLETED", "notes.txt": "REJECTED", "empty.wav": "REJECTED"}
    rows = wait_until(lambda: settled(up, expected), timeout=FLOW_SECONDS, interval=0.5)
    assert rows["notes.txt"]["error"]["M"]["code"]["S"] == "UNSUPPORTED_CONTENT_TYPE"
    assert rows["empty.wav"]["error"]["M"]["code"]["S"] == "EMPTY_OBJECT"
    # And the WAV's outputs are in the output bucket, in the folder of the version that was put, the
    # emulator's target being the input itself
    folder = f"song.wav/{rows['song.wav']['version_id']['S']}/"
    output_bucket = up.state["output_bucket"]
    listed = s3.list_objects_v2(Bucket=output_bucket, Prefix="song.wav/")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == [
        f"{folder}residual.wav",
        f"{folder}result.json",
        f"{folder}target.wav",
    ]
    assert s3.get_object(Bucket=output_bucket, Key=f"{folder}target.wav")["Body"].read() == wav
    # And an object without prompt metadata was separated with the prompt `up` was started with
    result = s3.get_object(Bucket=output_bucket, Key=f"{folder}result.json")["Body"].read()
    assert json.loads(result)["prompt"] == PROMPT

    # And the operations commands, pointed at it with --local, say the same
    listed = json.loads(ops(up, "ls", "--local", "--json"))
    assert listed["counts"] == {"COMPLETED": 1, "REJECTED": 2}
    by_key = {job["uri"].rsplit("/", 1)[1]: job for job in listed["jobs"]}
    assert {key: job["status"] for key, job in by_key.items()} == expected
    assert (by_key["notes.txt"]["code"], by_key["empty.wav"]["code"]) == (
        "UNSUPPORTED_CONTENT_TYPE",
        "EMPTY_OBJECT",
    )
    [song] = json.loads(ops(up, "status", "--local", "--json", f"s3://{bucket}/song.wav"))
    assert song["status"] == "COMPLETED"
    assert song["request_id"].startswith("req_")
    assert song["outputs"]["target"] == f"s3://{output_bucket}/{folder}target.wav"
    [notes] = json.loads(ops(up, "status", "--local", "--json", f"s3://{bucket}/notes.txt"))
    assert notes["reason"] == by_key["notes.txt"]["reason"]

    # When it gets SIGINT, as from Ctrl-C
    workers = descendants(up.process.pid)
    assert workers, "no function worker was running"
    code = up.stop(signal.SIGINT)

    # Then it exits 130, having printed nothing but the JSON line, with its state file and workers gone
    assert code == 130, up.stderr.read_text()
    assert up.rest_of_stdout() == ""
    assert not up.state_file.exists()
    assert wait_until(lambda: not still_running(workers), timeout=10, interval=0.1)


def test_a_second_up_is_refused_while_one_runs_and_sigterm_stops_the_first_with_exit_0(running_up, tmp_path):
    up = running_up
    published = up.state_file.read_text()

    # When a second `up` starts on the same state directory
    second = subprocess.run(
        [str(SCRIPT), "up", "--json"],
        capture_output=True,
        text=True,
        env=up_environment(up.state_file.parent),
        timeout=60,
        check=False,
    )

    # Then it is refused, says who runs, prints no endpoints and leaves the running one's file alone
    assert second.returncode == 1, second.stderr
    assert second.stdout == ""
    assert "already running" in second.stderr
    assert f"pid {up.process.pid}" in second.stderr
    assert up.state_file.read_text() == published
    assert up.process.poll() is None

    # And SIGTERM stops the first one cleanly
    assert up.stop(signal.SIGTERM) == 0, up.stderr.read_text()
    assert not up.state_file.exists()
