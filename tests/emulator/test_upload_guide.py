"""The upload guide run for real against `lassodrop emulator`: its curl steps and its JavaScript flow."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.audio import write_wav

KEY = "al_guide_key"
LASSODROP = Path(sys.executable).with_name("lassodrop")


@dataclass
class RunningEmulator:
    process: subprocess.Popen[str]
    base_url: str


def start_cli(*extra: str) -> RunningEmulator:
    """Start the console script and read the base URL from the first line it prints (bounded wait)."""
    command = [str(LASSODROP), "emulator", "--host", "127.0.0.1", "--port", "0", "--api-key", KEY, *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 15)
    if not ready:
        process.kill()
        pytest.fail("`lassodrop emulator` printed nothing within 15 s")
    first_line = process.stdout.readline().strip()
    assert first_line.startswith("http://127.0.0.1:"), first_line
    return RunningEmulator(process, first_line)


def stop_cli(running: RunningEmulator, signum: int = signal.SIGTERM) -> int:
    running.process.send_signal(signum)
    try:
        return running.process.wait(timeout=10)
    finally:
        if running.process.poll() is None:
            running.process.kill()


@pytest.fixture
def cli_emulator() -> Iterator[RunningEmulator]:
    running = start_cli()
    yield running
    stop_cli(running)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is needed by this test and was not found on PATH")
    return found


def curl(*args: str) -> str:
    """Run the real curl binary; proxies from the environment are bypassed for loopback."""
    done = subprocess.run(
        [tool("curl"), "--silent", "--show-error", "--fail-with-body", "--noproxy", "*", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"curl {args[:2]} failed: {done.stderr} {done.stdout}"
    return done.stdout


def curl_json(*args: str) -> Any:
    return json.loads(curl(*args))


def poll_until_completed(base_url: str, request_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = curl_json(
            f"{base_url}/v1/queue/requests/{request_id}/status", "-H", f"Authorization: Bearer {KEY}"
        )
        if status["status"] in ("COMPLETED", "FAILED"):
            return dict(status)
        time.sleep(0.05)
    raise AssertionError(f"{request_id} not finished within {timeout} s")


def check_outputs(base_url: str, request_id: str, source: Path, work: Path) -> None:
    """Fetch the result and both outputs with curl: valid WAV files, the target identical to the input."""
    result = curl_json(
        f"{base_url}/v1/queue/requests/{request_id}/result", "-H", f"Authorization: Bearer {KEY}"
    )
    target, residual = work / "target.wav", work / "residual.wav"
    curl(result["data"]["target"]["url"], "--output", str(target))
    curl(result["data"]["residual"]["url"], "--output", str(residual))

    assert target.read_bytes() == source.read_bytes()
    with wave.open(str(source)) as original, wave.open(str(residual)) as silent:
        assert silent.getparams() == original.getparams()
        assert set(silent.readframes(silent.getnframes())) == {0}
    assert result["data"]["sample_rate"] == 22050


def test_guide_curl_steps_upload_submit_and_complete(cli_emulator: RunningEmulator, tmp_path: Path) -> None:
    base_url = cli_emulator.base_url
    song = write_wav(tmp_path / "song.wav", frames=300_000)
    create_body = {
        "file_name": "song.wav",
        "content_type": "audio/wav",
        "file_size": song.stat().st_size,
        "purpose": "audio.separate.input",
    }
    json_headers = ["-H", f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json"]

    upload = curl_json("-X", "POST", f"{base_url}/v1/files", *json_headers, "-d", json.dumps(create_body))
    curl("-X", "PUT", upload["upload_url"], "-H", "content-type: audio/wav", "--data-binary", f"@{song}")
    submit_body = {"input": {"file_id": upload["file_id"], "prompt": "isolate the lead vocal"}}
    submitted = curl_json(
        "-X", "POST", f"{base_url}/v1/queue/audio/separate", *json_headers, "-d", json.dumps(submit_body)
    )

    assert submitted["status"] == "IN_QUEUE"
    assert poll_until_completed(base_url, submitted["request_id"])["status"] == "COMPLETED"
    check_outputs(base_url, submitted["request_id"], song, tmp_path)


# The guide's JavaScript flow, in our own words: the base URL comes from the environment.
NODE_SCRIPT = """
import { readFile, stat } from "node:fs/promises";

const base = process.env.AUDIOLASSO_BASE_URL;
const key = process.env.AUDIOLASSO_API_KEY;
const path = process.argv[2];
const jsonHeaders = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };

const { size } = await stat(path);
const created = await fetch(`${base}/v1/files`, {
  method: "POST",
  headers: jsonHeaders,
  body: JSON.stringify({
    file_name: "song.wav", content_type: "audio/wav", file_size: size, purpose: "audio.separate.input",
  }),
});
if (!created.ok) throw new Error(`create failed: ${created.status} ${await created.text()}`);
const upload = await created.json();

const put = await fetch(upload.upload_url, {
  method: upload.upload_method,
  headers: upload.headers,
  body: await readFile(path),
});
if (!put.ok) throw new Error(`upload failed: ${put.status}`);

const job = await fetch(`${base}/v1/queue/audio/separate`, {
  method: "POST",
  headers: jsonHeaders,
  body: JSON.stringify({ input: { file_id: upload.file_id, prompt: "isolate the lead vocal" } }),
});
console.log(JSON.stringify(await job.json()));
"""


def test_guide_javascript_flow_runs_in_node(cli_emulator: RunningEmulator, tmp_path: Path) -> None:
    song = write_wav(tmp_path / "song.wav", frames=300_000)
    script = tmp_path / "upload.mjs"
    script.write_text(NODE_SCRIPT)
    env = {**os.environ, "AUDIOLASSO_BASE_URL": cli_emulator.base_url, "AUDIOLASSO_API_KEY": KEY}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)

    done = subprocess.run(
        [tool("node"), str(script), str(song)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout.strip().splitlines()[-1])
    assert submitted["request_id"].startswith("req_01")
    assert poll_until_completed(cli_emulator.base_url, submitted["request_id"])["status"] == "COMPLETED"
    check_outputs(cli_emulator.base_url, submitted["request_id"], song, tmp_path)
    uploads = json.loads(curl(f"{cli_emulator.base_url}/_emulator/uploads"))
    assert [u["authorization_sent"] for u in uploads] == [False]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_url_first_and_exits_0_when_stopped(signum: int) -> None:
    running = start_cli("--queue-seconds", "0.1")

    models = curl_json(f"{running.base_url}/v1/models", "-H", f"Authorization: Bearer {KEY}")

    assert models["data"][0]["id"] == "audio/separate"
    assert stop_cli(running, signum) == 0
