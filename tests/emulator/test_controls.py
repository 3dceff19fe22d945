"""Misbehaviour controls and inspection, through the Python API and the /_emulator/ admin routes."""

import time

import pytest
import requests

from lassodrop_local.emulator import EmulatorServer
from tests.emulator.helpers import auth, create_upload, submit, wait_until

PUBLIC = "https://cdn.example.com/a.wav"


def test_fail_next_answers_the_next_calls_then_recovers(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.fail_next("models", 503, count=2, retry_after=3)
    url = f"{emulator.base_url}/v1/models"

    answers = [requests.get(url, headers=auth(api_key), timeout=5) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json()["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_fail_next_with_process_creates_the_job_but_loses_the_answer(
    emulator: EmulatorServer, api_key: str
) -> None:
    emulator.state.fail_next("submit", 502, process=True)

    answer = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}})

    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "UPSTREAM_FAILED"
    assert len(emulator.state.submissions) == 1


def test_failed_upload_call_does_not_break_the_next_request_on_the_connection(
    emulator: EmulatorServer, api_key: str
) -> None:
    upload = create_upload(emulator, api_key, 10)
    emulator.state.fail_next("upload", 500)

    with requests.Session() as session:
        first = session.put(upload["upload_url"], data=b"x" * 10, headers=upload["headers"], timeout=5)
        second = session.put(upload["upload_url"], data=b"x" * 10, headers=upload["headers"], timeout=5)

    assert (first.status_code, second.status_code) == (500, 200)


def test_upload_dropped_part_way_gets_no_answer_and_is_not_recorded(
    emulator: EmulatorServer, api_key: str
) -> None:
    data = b"x" * (3 * 1024 * 1024)
    upload = create_upload(emulator, api_key, len(data))
    emulator.state.drop_upload_after(1024 * 1024)

    with pytest.raises(requests.ConnectionError):
        requests.put(upload["upload_url"], data=data, headers=upload["headers"], timeout=5)
    retried = requests.put(upload["upload_url"], data=data, headers=upload["headers"], timeout=5)

    assert retried.status_code == 200
    assert [record.size for record in emulator.state.uploads] == [len(data)]
    assert [r.status for r in emulator.state.requests if r.route == "upload"] == [None, 200]


def test_output_dropped_part_way_ends_the_body_early(emulator: EmulatorServer, api_key: str) -> None:
    submitted = submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}}).json()
    wait_until(lambda: requests.get(submitted["result_url"], headers=auth(api_key), timeout=5).ok)
    url = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5).json()["data"]["target"][
        "url"
    ]
    emulator.state.drop_output_after(100)

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=5)

    assert requests.get(url, timeout=5).content[:4] == b"RIFF"


def test_latency_delays_the_answers_of_a_route(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_latency(0.3, route="models")

    started = time.monotonic()
    requests.get(f"{emulator.base_url}/v1/models", headers=auth(api_key), timeout=5)

    assert time.monotonic() - started >= 0.3


def test_admin_routes_drive_the_emulator_from_another_process(emulator: EmulatorServer, api_key: str) -> None:
    admin = f"{emulator.base_url}/_emulator"
    requests.post(f"{admin}/fail_next", json={"route": "models", "status": 429}, timeout=5).raise_for_status()

    refused = requests.get(f"{emulator.base_url}/v1/models", headers=auth(api_key), timeout=5)
    requests.post(f"{admin}/reset", json={}, timeout=5).raise_for_status()
    calls = requests.get(f"{admin}/requests", timeout=5).json()

    assert refused.status_code == 429
    assert calls == []


def test_admin_inspection_lists_uploads_submissions_and_keys(emulator: EmulatorServer, api_key: str) -> None:
    admin = f"{emulator.base_url}/_emulator"
    requests.post(f"{admin}/keys", json={"key": "al_other", "scopes": ["audio:separate"]}, timeout=5)
    upload = create_upload(emulator, api_key, 4)
    requests.put(upload["upload_url"], data=b"abcd", headers=upload["headers"], timeout=5)
    submit(emulator, "al_other", {"input": {"file_id": upload["file_id"], "prompt": "p"}})

    uploads = requests.get(f"{admin}/uploads", timeout=5).json()
    submissions = requests.get(f"{admin}/submissions", timeout=5).json()

    assert [(u["file_id"], u["size"], u["authorization_sent"]) for u in uploads] == [
        (upload["file_id"], 4, False)
    ]
    assert submissions == [{"input": {"file_id": upload["file_id"], "prompt": "p"}}]


def test_admin_route_with_bad_arguments_answers_400(emulator: EmulatorServer) -> None:
    answer = requests.post(
        f"{emulator.base_url}/_emulator/fail_next", json={"route": "nope", "status": 500}, timeout=5
    )

    assert answer.status_code == 400
