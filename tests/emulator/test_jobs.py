"""Job progress: status with logs, the SSE stream, failed jobs."""

import json

import requests

from lassodrop_local.emulator import EmulatorServer
from tests.emulator.helpers import auth, submit, wait_for_status

PUBLIC = "https://cdn.example.com/a.wav"


def sse_events(text: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_status_moves_through_the_queue_to_completed_with_logs(
    emulator: EmulatorServer, api_key: str
) -> None:
    submitted = submit(
        emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "isolate the vocal"}}
    ).json()

    final = wait_for_status(submitted["status_url"] + "?logs=true", api_key)

    assert final["status"] == "COMPLETED"
    assert final["model"] == "audio/separate"
    assert final["result_url"] == submitted["result_url"]
    assert [entry["message"] for entry in final["logs"]] == [
        "request queued",
        "separation started",
        "separation completed",
    ]
    assert "error" not in final


def test_status_without_logs_has_no_logs(emulator: EmulatorServer, api_key: str) -> None:
    submitted = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}}).json()

    body = requests.get(submitted["status_url"], headers=auth(api_key), timeout=5).json()

    assert body["status"] in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
    assert "logs" not in body


def test_unknown_request_answers_404(emulator: EmulatorServer, api_key: str) -> None:
    url = f"{emulator.base_url}/v1/queue/requests/req_01nope/status"

    assert requests.get(url, headers=auth(api_key), timeout=5).status_code == 404


def test_sse_stream_sends_each_status_once_and_closes_at_completion(
    emulator: EmulatorServer, api_key: str
) -> None:
    emulator.state.set_timings(queue_seconds=0.2, run_seconds=0.2)
    submitted = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}}).json()

    answer = requests.get(submitted["stream_url"], headers=auth(api_key), timeout=10)

    assert answer.headers["Content-Type"] == "text/event-stream"
    events = sse_events(answer.text)
    assert [name for name, _ in events] == ["status", "status", "status"]
    assert [data["status"] for _, data in events] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


def test_sse_stream_ends_at_its_bound_before_a_terminal_status(
    emulator: EmulatorServer, api_key: str
) -> None:
    emulator.state.set_timings(queue_seconds=30.0, stream_max_seconds=0.2)
    submitted = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}}).json()

    answer = requests.get(submitted["stream_url"], headers=auth(api_key), timeout=10)

    assert [data["status"] for _, data in sse_events(answer.text)] == ["IN_QUEUE"]


def test_prompt_with_fail_trigger_fails_with_model_failed(emulator: EmulatorServer, api_key: str) -> None:
    submitted = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "vocals [fail]"}}).json()

    final = wait_for_status(submitted["status_url"], api_key)
    result = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5)

    assert final["status"] == "FAILED"
    assert final["error"]["code"] == "MODEL_FAILED"
    assert final["error"]["message"]
    assert result.status_code == 409
    assert result.json()["error"]["code"] == "MODEL_FAILED"


def test_fail_next_jobs_fails_a_job_whatever_its_prompt(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.fail_next_jobs(1)

    first = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}}).json()
    second = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}}).json()

    assert wait_for_status(first["status_url"], api_key)["status"] == "FAILED"
    assert wait_for_status(second["status_url"], api_key)["status"] == "COMPLETED"
