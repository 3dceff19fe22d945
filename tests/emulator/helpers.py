"""Small helpers for the emulator tests: the upload/submit steps, bounded polling."""

from typing import Any

import requests

from lassodrop_local.emulator import EmulatorServer
from tests.support import wait_until


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_upload(emulator: EmulatorServer, key: str, size: int, content_type: str = "audio/wav") -> Any:
    body: dict[str, Any] = {
        "file_name": "song.wav",
        "content_type": content_type,
        "file_size": size,
        "purpose": "audio.separate.input",
    }
    answer = requests.post(f"{emulator.base_url}/v1/files", json=body, headers=auth(key), timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()


def upload_bytes(emulator: EmulatorServer, key: str, data: bytes) -> str:
    upload = create_upload(emulator, key, len(data))
    answer = requests.put(upload["upload_url"], data=data, headers=upload["headers"], timeout=5)
    assert answer.status_code == 200, answer.text
    return str(upload["file_id"])


def submit(emulator: EmulatorServer, key: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{emulator.base_url}/v1/queue/audio/separate", json=body, headers=auth(key), timeout=5
    )


def wait_for_status(status_url: str, key: str, timeout: float = 10.0) -> dict[str, Any]:
    def terminal() -> dict[str, Any] | None:
        body: dict[str, Any] = requests.get(status_url, headers=auth(key), timeout=5).json()
        return body if body["status"] in ("COMPLETED", "FAILED") else None

    result: dict[str, Any] = wait_until(terminal, timeout)
    return result
