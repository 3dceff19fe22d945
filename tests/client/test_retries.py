import socket
from collections.abc import Iterator

import pytest

from lassodrop.audiolasso import (
    AudioLassoClient,
    AudioLassoError,
    ConnectionFailedError,
    ServerError,
    UpstreamError,
)
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import pcm_wav

from .helpers import CountingSession, Opener


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused before any byte is sent."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def impatient_client(
    emulator: EmulatorServer, api_key: str, sleeps: list[float]
) -> Iterator[AudioLassoClient]:
    with AudioLassoClient(api_key, emulator.base_url, allow_local=True, timeout=(2.0, 0.2)) as client:
        yield client


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_on_a_read_are_retried_with_backoff_until_success(
    client: AudioLassoClient,
    emulator: EmulatorServer,
    session: CountingSession,
    sleeps: list[float],
    status: int,
) -> None:
    emulator.state.fail_next("models", status, count=2)

    models = client.models()

    assert [model.id for model in models] == ["audio/separate"]
    assert session.calls("/v1/models") == 3
    assert len(sleeps) == 2


def test_retries_stop_at_the_bound_and_raise_the_last_error(
    client: AudioLassoClient, emulator: EmulatorServer, session: CountingSession, sleeps: list[float]
) -> None:
    emulator.state.fail_next("models", 500, count=10)

    with pytest.raises(ServerError):
        client.models()

    assert session.calls("/v1/models") == 5
    assert len(sleeps) == 4


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413])
def test_client_errors_are_never_retried(
    client: AudioLassoClient,
    emulator: EmulatorServer,
    session: CountingSession,
    sleeps: list[float],
    status: int,
) -> None:
    emulator.state.fail_next("models", status, count=3)

    with pytest.raises(AudioLassoError) as caught:
        client.models()

    assert caught.value.status_code == status
    assert session.calls("/v1/models") == 1
    assert sleeps == []


def test_a_dropped_upload_connection_is_retried_with_a_freshly_opened_source(
    client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    data = pcm_wav(frames=200_000)
    emulator.state.drop_upload_after(100_000)
    opener = Opener(data)

    upload = client.upload("a.wav", "audio/wav", len(data), opener)

    assert opener.opened == 2
    assert len(sleeps) == 1
    assert [(u.file_id, u.size) for u in emulator.state.uploads] == [(upload.file_id, len(data))]


def test_an_upload_dropped_every_time_gives_up_after_the_bound(
    client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    data = pcm_wav(frames=200_000)
    emulator.state.drop_upload_after(100_000, count=10)
    opener = Opener(data)

    with pytest.raises(ConnectionFailedError):
        client.upload("a.wav", "audio/wav", len(data), opener)

    assert opener.opened == 5
    assert emulator.state.uploads == []


def test_a_read_timeout_on_a_read_is_retried(
    impatient_client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.state.set_latency(0.5, route="models")

    with pytest.raises(ConnectionFailedError) as caught:
        impatient_client.models()

    assert caught.value.request_sent is True
    assert len(sleeps) == 4


def test_a_refused_connection_is_retried_for_reads(closed_port_url: str, sleeps: list[float]) -> None:
    client = AudioLassoClient("al_test_key", closed_port_url, allow_local=True)

    with pytest.raises(ConnectionFailedError) as caught:
        client.models()

    assert caught.value.request_sent is False
    assert len(sleeps) == 4


@pytest.mark.parametrize(("status", "error_class"), [(500, ServerError), (502, UpstreamError)])
def test_submit_is_not_retried_after_a_server_error_so_no_second_job_can_start(
    client: AudioLassoClient,
    emulator: EmulatorServer,
    session: CountingSession,
    sleeps: list[float],
    status: int,
    error_class: type,
) -> None:
    # Given the service creates the job but the answer is lost as a 5xx
    emulator.state.fail_next("submit", status, process=True)

    # When the client submits
    with pytest.raises(error_class):
        client.submit("isolate the vocal", audio_url="https://example.com/a.wav")

    # Then it did not try again: exactly one job exists
    assert session.calls("/queue/audio/separate") == 1
    assert len(emulator.state.submissions) == 1
    assert sleeps == []


def test_submit_is_not_retried_after_a_read_timeout(
    impatient_client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.state.set_latency(0.5, route="submit")

    with pytest.raises(ConnectionFailedError) as caught:
        impatient_client.submit("isolate the vocal", audio_url="https://example.com/a.wav")

    assert caught.value.request_sent is True
    assert sleeps == []


def test_submit_is_retried_when_the_connection_was_never_opened(
    closed_port_url: str, sleeps: list[float]
) -> None:
    client = AudioLassoClient("al_test_key", closed_port_url, allow_local=True)

    with pytest.raises(ConnectionFailedError):
        client.submit("isolate the vocal", audio_url="https://example.com/a.wav")

    assert len(sleeps) == 4


def test_submit_is_retried_after_a_503_because_nothing_was_done(
    client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.state.fail_next("submit", 503, retry_after=2)

    submission = client.submit("isolate the vocal", audio_url="https://example.com/a.wav")

    assert submission.status == "IN_QUEUE"
    assert len(emulator.state.submissions) == 1
    assert sleeps == [2.0]
