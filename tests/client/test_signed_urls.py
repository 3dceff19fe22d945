import io

import pytest

from lassodrop.audiolasso import (
    AudioLassoClient,
    BadRequestError,
    ConnectionFailedError,
    ExpiredError,
    InvalidInputError,
    Output,
    OutputStream,
    SourceLengthError,
    UnsafeUrlError,
    Upload,
)
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import pcm_wav

from .helpers import CountingSession, Opener

WAV_HEADERS = {"content-type": "audio/wav"}
UNSAFE_UPLOAD = Upload("file_1", "https://evil.example/uploads/file_1", "PUT", WAV_HEADERS, "")


def test_the_signed_put_has_an_exact_content_length_no_chunking_and_no_authorization(
    client: AudioLassoClient, emulator
) -> None:
    data = pcm_wav()

    client.upload("a.wav", "audio/wav", len(data), Opener(data))

    [upload] = emulator.state.uploads
    assert upload.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in upload.headers
    assert "authorization" not in upload.headers
    assert upload.authorization_sent is False
    assert upload.content_type == "audio/wav"
    api_calls = [r for r in emulator.state.requests if r.route != "upload"]
    assert api_calls
    assert all(r.authorization_sent for r in api_calls)


def test_an_expired_upload_url_is_replaced_by_a_fresh_one(
    client: AudioLassoClient, emulator: EmulatorServer, session: CountingSession, sleeps: list[float]
) -> None:
    data = pcm_wav()
    emulator.state.fail_next("upload", 410)
    opener = Opener(data)

    upload = client.upload("a.wav", "audio/wav", len(data), opener)

    assert session.calls("/v1/files") == 2
    assert opener.opened == 2
    assert [u.file_id for u in emulator.state.uploads] == [upload.file_id]


def test_a_refused_signature_asks_for_a_fresh_upload_url(
    client: AudioLassoClient, emulator: EmulatorServer, session: CountingSession
) -> None:
    data = pcm_wav()
    emulator.state.fail_next("upload", 403)

    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))

    assert session.calls("/v1/files") == 2
    assert [u.file_id for u in emulator.state.uploads] == [upload.file_id]


def test_urls_that_keep_expiring_give_up_after_the_bound(
    client: AudioLassoClient, emulator: EmulatorServer, session: CountingSession
) -> None:
    data = pcm_wav()
    emulator.state.set_timings(upload_url_ttl_seconds=0.0)

    with pytest.raises(ExpiredError):
        client.upload("a.wav", "audio/wav", len(data), Opener(data))

    assert session.calls("/v1/files") == 5


def test_a_400_from_the_signed_url_is_not_retried(
    client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    data = pcm_wav()
    emulator.state.fail_next("upload", 400, count=2)
    opener = Opener(data)

    with pytest.raises(BadRequestError):
        client.upload("a.wav", "audio/wav", len(data), opener)

    assert opener.opened == 1
    assert sleeps == []


def test_a_source_that_ends_early_aborts_the_put_instead_of_sending_a_short_body(
    client: AudioLassoClient, emulator
) -> None:
    data = pcm_wav(frames=100_000)
    opener = Opener(data[:-1000])

    with pytest.raises(SourceLengthError):
        client.upload("a.wav", "audio/wav", len(data), opener)

    assert opener.opened == 1
    assert emulator.state.uploads == []


def test_a_source_longer_than_declared_is_refused_before_its_last_block(
    client: AudioLassoClient, emulator
) -> None:
    data = pcm_wav()

    with pytest.raises(SourceLengthError):
        client.upload("a.wav", "audio/wav", len(data) - 10, Opener(data))

    assert emulator.state.uploads == []


@pytest.mark.parametrize(
    ("content_type", "size"), [("text/plain", 10), ("audio/wav", 0), ("audio/wav", 500_000_001)]
)
def test_bad_size_or_content_type_is_refused_before_any_request(
    client: AudioLassoClient, emulator: EmulatorServer, content_type: str, size: int
) -> None:
    opener = Opener(b"")

    with pytest.raises(InvalidInputError):
        client.upload("a.bin", content_type, size, opener)

    assert emulator.state.requests == []
    assert opener.opened == 0


def test_an_http_base_url_is_refused_unless_allow_local(emulator: EmulatorServer, api_key: str) -> None:
    with pytest.raises(UnsafeUrlError):
        AudioLassoClient(api_key, emulator.base_url)


def test_a_returned_url_on_a_foreign_host_is_never_fetched(
    client: AudioLassoClient, emulator: EmulatorServer
) -> None:
    with pytest.raises(UnsafeUrlError):
        client.put_upload(UNSAFE_UPLOAD, io.BytesIO(b"x" * 10), 10)
    with pytest.raises(UnsafeUrlError):
        client.status(status_url="https://evil.example/v1/queue/requests/req_1/status")
    with (
        pytest.raises(UnsafeUrlError),
        client.open_output(Output("https://evil.example/t.wav", "audio/wav", "t")),
    ):
        pass

    assert emulator.state.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://audiolasso.dev/uploads/file_1",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/uploads/file_1",
        "https://127.0.0.1/uploads/file_1",
    ],
)
def test_plain_http_and_private_addresses_are_refused_for_the_hosted_service(url: str) -> None:
    client = AudioLassoClient("al_test_key")
    upload = Upload("file_1", url, "PUT", WAV_HEADERS, "")

    with pytest.raises(UnsafeUrlError):
        client.put_upload(upload, io.BytesIO(b"x" * 10), 10)


def test_an_expired_output_raises_expired(client: AudioLassoClient, emulator: EmulatorServer) -> None:
    output = _completed_output(client)
    emulator.state.expire_output_urls()

    with pytest.raises(ExpiredError), client.open_output(output):
        pass


def test_an_output_download_cut_short_raises_instead_of_returning_a_short_file(
    client: AudioLassoClient, emulator
) -> None:
    output = _completed_output(client)
    emulator.state.drop_output_after(1000)

    with client.open_output(output) as stream, pytest.raises(ConnectionFailedError):
        _drain(stream)


def _drain(stream: OutputStream) -> None:
    while stream.read(64 * 1024):
        pass


def _completed_output(client: AudioLassoClient) -> Output:
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))
    submission = client.submit("isolate the vocal", file_id=upload.file_id)
    statuses = list(client.stream_status(stream_url=submission.stream_url))
    assert statuses[-1].status == "COMPLETED"
    return client.result(submission.request_id).target
