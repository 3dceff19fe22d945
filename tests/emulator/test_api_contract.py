"""The documented answers of the API routes (auth, files, submit, result), checked over real HTTP."""

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from lassodrop_local.emulator import EmulatorServer
from tests.emulator.helpers import auth, create_upload, submit, upload_bytes, wait_for_status
from tests.fixtures.audio import write_wav

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_missing_key_answers_401_with_the_documented_error(emulator: EmulatorServer) -> None:
    answer = requests.get(f"{emulator.base_url}/v1/models", timeout=5)

    assert answer.status_code == 401
    assert answer.json() == {"error": {"code": "UNAUTHENTICATED", "message": "Missing or invalid API key."}}


def test_unknown_key_is_refused_and_a_second_configured_key_works(api_key: str) -> None:
    with EmulatorServer(api_keys=(api_key, "al_second")) as server:
        wrong = requests.get(f"{server.base_url}/v1/models", headers=auth("al_nope"), timeout=5)
        second = requests.get(f"{server.base_url}/v1/models", headers=auth("al_second"), timeout=5)

    assert wrong.status_code == 401
    assert second.status_code == 200
    assert second.json()["data"][0]["id"] == "audio/separate"


def test_key_without_the_scope_answers_403_permission_denied(api_key: str) -> None:
    with EmulatorServer(api_keys=(), key_scopes={"al_reader": {"files:read"}}) as server:
        answer = create_upload_raw(server, "al_reader")

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "PERMISSION_DENIED"


def test_revoked_key_is_refused_at_once(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.revoke_key(api_key)

    answer = requests.get(f"{emulator.base_url}/v1/models", headers=auth(api_key), timeout=5)

    assert answer.status_code == 401


def test_openapi_document_needs_no_key_and_lists_the_routes(emulator: EmulatorServer) -> None:
    document = requests.get(f"{emulator.base_url}/v1/openapi.json", timeout=5).json()

    assert document["openapi"].startswith("3.1")
    assert "/v1/queue/audio/separate" in document["paths"]
    assert "/v1/queue/requests/{request_id}/status/stream" in document["paths"]


def create_upload_raw(server: EmulatorServer, key: str, **changes: object) -> requests.Response:
    body: dict[str, Any] = {
        "file_name": "a.wav",
        "content_type": "audio/wav",
        "file_size": 10,
        "purpose": "audio.separate.input",
    }
    body.update(changes)
    return requests.post(f"{server.base_url}/v1/files", json=body, headers=auth(key), timeout=5)


def test_create_file_answers_201_with_a_signed_put_url(emulator: EmulatorServer, api_key: str) -> None:
    answer = create_upload_raw(emulator, api_key, file_size=1234)

    assert answer.status_code == 201
    body = answer.json()
    assert re.fullmatch(r"file_01[0-9a-z]{24}", body["file_id"])
    assert body["upload_url"].startswith(f"{emulator.base_url}/uploads/{body['file_id']}?expires=")
    assert "sig=" in body["upload_url"]
    assert body["upload_method"] == "PUT"
    assert body["headers"] == {"content-type": "audio/wav"}
    assert ISO_MS.match(body["expires_at"])
    assert ISO_MS.match(body["retention"]["delete_after"])


def test_file_metadata_echoes_the_create_fields_and_status(emulator: EmulatorServer, api_key: str) -> None:
    file_id = upload_bytes(emulator, api_key, b"x" * 10)

    body = requests.get(f"{emulator.base_url}/v1/files/{file_id}", headers=auth(api_key), timeout=5).json()

    assert body["file_id"] == file_id
    assert body["file_size"] == 10
    assert body["content_type"] == "audio/wav"
    assert body["status"] == "uploaded"


def test_file_over_500_mb_answers_413(emulator: EmulatorServer, api_key: str) -> None:
    answer = create_upload_raw(emulator, api_key, file_size=500_000_001)

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "FILE_TOO_LARGE"


def test_text_content_type_answers_400_unsupported(emulator: EmulatorServer, api_key: str) -> None:
    answer = create_upload_raw(emulator, api_key, content_type="text/plain")

    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "UNSUPPORTED_CONTENT_TYPE",
        "message": "Use audio/*, video/* or application/octet-stream.",
        "param": "content_type",
    }


@pytest.mark.parametrize("content_type", ["audio/mpeg", "video/mp4", "application/octet-stream"])
def test_documented_content_types_are_accepted(
    emulator: EmulatorServer, api_key: str, content_type: str
) -> None:
    assert create_upload_raw(emulator, api_key, content_type=content_type).status_code == 201


@pytest.mark.parametrize(
    ("change", "param"), [({"file_size": "10"}, "file_size"), ({"file_name": ""}, "file_name")]
)
def test_bad_create_body_names_the_param(
    emulator: EmulatorServer, api_key: str, change: dict[str, object], param: str
) -> None:
    answer = create_upload_raw(emulator, api_key, **change)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "INVALID_REQUEST"
    assert answer.json()["error"]["param"] == param


def test_chunked_put_answers_411(emulator: EmulatorServer, api_key: str) -> None:
    upload = create_upload(emulator, api_key, 10)

    answer = requests.put(upload["upload_url"], data=iter([b"x" * 10]), headers=upload["headers"], timeout=5)

    assert answer.status_code == 411
    assert emulator.state.uploads == []


def test_put_with_another_content_type_answers_403(emulator: EmulatorServer, api_key: str) -> None:
    upload = create_upload(emulator, api_key, 10)

    answer = requests.put(
        upload["upload_url"], data=b"x" * 10, headers={"content-type": "audio/mpeg"}, timeout=5
    )

    assert answer.status_code == 403


def test_put_of_another_length_than_declared_answers_400(emulator: EmulatorServer, api_key: str) -> None:
    upload = create_upload(emulator, api_key, 10)

    answer = requests.put(upload["upload_url"], data=b"x" * 9, headers=upload["headers"], timeout=5)

    assert answer.status_code == 400


def test_expired_upload_url_answers_410(emulator: EmulatorServer, api_key: str) -> None:
    upload = create_upload(emulator, api_key, 10)
    emulator.state.expire_upload_urls()

    answer = requests.put(upload["upload_url"], data=b"x" * 10, headers=upload["headers"], timeout=5)

    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "EXPIRED"


def test_upload_url_expires_after_its_ttl(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_timings(upload_url_ttl_seconds=0.0)
    upload = create_upload(emulator, api_key, 10)

    answer = requests.put(upload["upload_url"], data=b"x" * 10, headers=upload["headers"], timeout=5)

    assert answer.status_code == 410


def test_tampered_upload_signature_answers_403(emulator: EmulatorServer, api_key: str) -> None:
    upload = create_upload(emulator, api_key, 10)
    url = upload["upload_url"].replace("sig=", "sig=0")

    answer = requests.put(url, data=b"x" * 10, headers=upload["headers"], timeout=5)

    assert answer.status_code == 403


def test_upload_is_recorded_with_size_hash_and_whether_a_key_was_sent(
    emulator: EmulatorServer, api_key: str
) -> None:
    upload = create_upload(emulator, api_key, 10)
    headers = {**upload["headers"], **auth(api_key)}

    answer = requests.put(upload["upload_url"], data=b"0123456789", headers=headers, timeout=5)

    assert answer.status_code == 200
    [record] = emulator.state.uploads
    assert record.size == 10
    assert record.sha256 == "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"
    assert record.content_type == "audio/wav"
    assert record.authorization_sent is True
    assert record.headers["authorization"] == "<redacted>"


def test_submit_answers_202_with_absolute_urls(emulator: EmulatorServer, api_key: str) -> None:
    file_id = upload_bytes(emulator, api_key, b"x" * 10)

    answer = submit(emulator, api_key, {"input": {"file_id": file_id, "prompt": "isolate the lead vocal"}})

    assert answer.status_code == 202
    body = answer.json()
    request_id = body["request_id"]
    assert re.fullmatch(r"req_01[0-9a-z]{24}", request_id)
    assert body["status"] == "IN_QUEUE"
    assert body["model"] == "audio/separate"
    assert ISO_MS.match(body["created_at"])
    base = f"{emulator.base_url}/v1/queue/requests/{request_id}"
    assert body["status_url"] == f"{base}/status"
    assert body["stream_url"] == f"{base}/status/stream"
    assert body["result_url"] == f"{base}/result"
    assert emulator.state.submissions == [{"input": {"file_id": file_id, "prompt": "isolate the lead vocal"}}]


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/a.wav",
        "http://example.com/a.wav",
        "file:///etc/passwd",
        "https://127.0.0.1/a.wav",
        "https://10.0.0.8/a.wav",
        "https://192.168.1.2/a.wav",
        "https://169.254.169.254/latest",
        "https://[::1]/a.wav",
        "https://printer.local/a.wav",
    ],
)
def test_non_public_audio_url_answers_invalid_audio_url(
    emulator: EmulatorServer, api_key: str, url: str
) -> None:
    answer = submit(emulator, api_key, {"input": {"audio_url": url, "prompt": "isolate the lead vocal"}})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "INVALID_AUDIO_URL"
    assert answer.json()["error"]["param"] == "input.audio_url"


def test_public_audio_url_completes_with_small_wav_outputs(emulator: EmulatorServer, api_key: str) -> None:
    body = {"input": {"audio_url": "https://cdn.example.com/a.mp3", "prompt": "isolate the lead vocal"}}

    submitted = submit(emulator, api_key, body).json()
    final = wait_for_status(submitted["status_url"], api_key)
    result = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5).json()
    target = requests.get(result["data"]["target"]["url"], timeout=5)

    assert final["status"] == "COMPLETED"
    assert target.content[:4] == b"RIFF"
    assert result["data"]["sample_rate"] == 44100


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": {"file_id": "file_x"}}, "input.prompt"),
        ({"input": {"prompt": "isolate the vocal"}}, "input"),
        (
            {
                "input": {
                    "audio_url": "https://a.example/a.wav",
                    "prompt": "p",
                    "spans": [{"start": 2, "end": 1}],
                }
            },
            "input.spans[0].end",
        ),
        (
            {"input": {"audio_url": "https://a.example/a.wav", "prompt": "p"}, "webhookUrl": "ftp://x"},
            "webhookUrl",
        ),
    ],
)
def test_bad_submit_body_names_the_param(
    emulator: EmulatorServer, api_key: str, body: dict[str, object], param: str
) -> None:
    answer = submit(emulator, api_key, body)

    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_submit_of_an_unknown_file_answers_404(emulator: EmulatorServer, api_key: str) -> None:
    answer = submit(emulator, api_key, {"input": {"file_id": "file_01nope", "prompt": "isolate the vocal"}})

    assert answer.status_code == 404


def test_submit_of_a_file_not_yet_uploaded_answers_400(emulator: EmulatorServer, api_key: str) -> None:
    upload = create_upload(emulator, api_key, 10)

    answer = submit(
        emulator, api_key, {"input": {"file_id": upload["file_id"], "prompt": "isolate the vocal"}}
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input.file_id"


def test_result_before_completion_answers_409_not_ready(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_timings(queue_seconds=30.0)
    submitted = submit(
        emulator, api_key, {"input": {"audio_url": "https://a.example/a.wav", "prompt": "p"}}
    ).json()

    answer = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5)

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "REQUEST_NOT_READY"
    assert answer.json()["error"]["request_id"] == submitted["request_id"]


def test_happy_path_target_is_the_input_and_residual_is_silence(
    emulator: EmulatorServer, api_key: str, tmp_path: Path
) -> None:
    source = write_wav(tmp_path / "in.wav").read_bytes()
    file_id = upload_bytes(emulator, api_key, source)
    submitted = submit(
        emulator, api_key, {"input": {"file_id": file_id, "prompt": "isolate the vocal"}}
    ).json()

    final = wait_for_status(submitted["status_url"], api_key)
    result = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5).json()
    target = requests.get(result["data"]["target"]["url"], timeout=5)
    residual = requests.get(result["data"]["residual"]["url"], timeout=5)

    assert final["status"] == "COMPLETED"
    assert result["status"] == "COMPLETED"
    assert result["data"]["sample_rate"] == 22050
    assert result["data"]["target"]["content_type"] == "audio/wav"
    assert result["data"]["residual"]["file_name"] == "residual.wav"
    assert target.content == source
    assert len(residual.content) == len(source)
    assert residual.content[:44] == source[:44]
    assert set(residual.content[44:]) == {0}


def test_output_urls_answer_410_after_the_result_retention(emulator: EmulatorServer, api_key: str) -> None:
    submitted = submit(
        emulator, api_key, {"input": {"audio_url": "https://a.example/a.wav", "prompt": "p"}}
    ).json()
    wait_for_status(submitted["status_url"], api_key)
    result = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5).json()

    emulator.state.set_timings(result_retention_seconds=0.0)
    output = requests.get(result["data"]["target"]["url"], timeout=5)
    again = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5)

    assert output.status_code == 410
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "EXPIRED"


def test_output_urls_expired_early_answer_410(emulator: EmulatorServer, api_key: str) -> None:
    submitted = submit(
        emulator, api_key, {"input": {"audio_url": "https://a.example/a.wav", "prompt": "p"}}
    ).json()
    wait_for_status(submitted["status_url"], api_key)
    result = requests.get(submitted["result_url"], headers=auth(api_key), timeout=5).json()

    emulator.state.expire_output_urls(submitted["request_id"])

    assert requests.get(result["data"]["residual"]["url"], timeout=5).status_code == 410
