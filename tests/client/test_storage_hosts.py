"""Signed URLs on a configured storage host: used without credentials, and never trusted with the API key."""

from collections.abc import Iterator

import pytest
import responses

from lassodrop.audiolasso import AudioLassoClient, Output, UnsafeUrlError, Upload

from .helpers import Opener

API = "https://audiolasso.dev/v1"
STORAGE_HOSTS = ("*.r2.cloudflarestorage.com",)
UPLOAD_URL = "https://acct.r2.cloudflarestorage.com/uploads/file_1"
OUTPUT_URL = "https://acct.r2.cloudflarestorage.com/outputs/req_1/target.wav"
STORAGE_STATUS_URL = "https://acct.r2.cloudflarestorage.com/v1/queue/requests/req_1/status"
WAV = {"content-type": "audio/wav"}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client() -> AudioLassoClient:
    return AudioLassoClient("al_test_key", signed_url_hosts=STORAGE_HOSTS)


def test_a_signed_upload_url_on_a_storage_host_gets_the_bytes_without_the_key(
    mocked: responses.RequestsMock, client: AudioLassoClient
) -> None:
    mocked.post(f"{API}/files", status=201, json=_upload_json(UPLOAD_URL + "?sig=abc"))
    mocked.put(UPLOAD_URL, status=200)

    upload = client.upload("a.wav", "audio/wav", 4, Opener(b"RIFF"))

    create, put = mocked.calls
    assert upload.file_id == "file_1"
    assert create.request.headers["Authorization"] == "Bearer al_test_key"
    assert put.request.body is not None
    assert "Authorization" not in put.request.headers


def test_an_output_on_a_storage_host_is_downloaded_without_the_key(
    mocked: responses.RequestsMock, client: AudioLassoClient
) -> None:
    mocked.get(OUTPUT_URL, body=b"RIFF....", headers={"Content-Length": "8"})

    with client.open_output(Output(OUTPUT_URL + "?sig=1", "audio/wav", "target.wav")) as stream:
        data = stream.read()

    assert data == b"RIFF...."
    assert [("Authorization" in call.request.headers) for call in mocked.calls] == [False]


def test_an_output_redirect_to_a_storage_host_is_followed(
    mocked: responses.RequestsMock, client: AudioLassoClient
) -> None:
    mocked.get(
        "https://audiolasso.dev/outputs/req_1/target.wav", status=302, headers={"Location": OUTPUT_URL}
    )
    mocked.get(OUTPUT_URL, body=b"RIFF")

    with client.open_output("https://audiolasso.dev/outputs/req_1/target.wav?sig=1") as stream:
        assert stream.read() == b"RIFF"

    assert all("Authorization" not in call.request.headers for call in mocked.calls)


def test_status_result_and_stream_urls_on_a_storage_host_are_refused_before_the_key_is_sent(
    mocked: responses.RequestsMock, client: AudioLassoClient
) -> None:
    with pytest.raises(UnsafeUrlError):
        client.status(status_url=STORAGE_STATUS_URL)
    with pytest.raises(UnsafeUrlError):
        client.result(result_url=STORAGE_STATUS_URL.replace("status", "result"))
    with pytest.raises(UnsafeUrlError):
        next(client.stream_status(stream_url=STORAGE_STATUS_URL + "/stream"))

    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/uploads/file_1?sig=abc",
        "http://acct.r2.cloudflarestorage.com/uploads/file_1?sig=abc",
    ],
)
def test_a_signed_url_on_an_unconfigured_host_or_over_http_is_never_fetched(
    mocked: responses.RequestsMock, client: AudioLassoClient, url: str
) -> None:
    upload = Upload("file_1", url, "PUT", WAV, "")

    with pytest.raises(UnsafeUrlError):
        client.put_upload(upload, Opener(b"RIFF")(), 4)
    with pytest.raises(UnsafeUrlError), client.open_output(url):
        pass

    assert len(mocked.calls) == 0


def test_without_configured_storage_hosts_a_storage_upload_url_is_refused(
    mocked: responses.RequestsMock,
) -> None:
    upload = Upload("file_1", UPLOAD_URL + "?sig=abc", "PUT", WAV, "")

    with pytest.raises(UnsafeUrlError):
        AudioLassoClient("al_test_key").put_upload(upload, Opener(b"RIFF")(), 4)

    assert len(mocked.calls) == 0


def _upload_json(upload_url: str) -> dict[str, object]:
    return {
        "file_id": "file_1",
        "upload_url": upload_url,
        "upload_method": "PUT",
        "headers": WAV,
        "expires_at": "2030-01-01T00:00:00.000Z",
    }
