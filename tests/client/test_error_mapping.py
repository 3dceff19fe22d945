from collections.abc import Iterator

import pytest

from lassodrop.audiolasso import (
    AudioLassoClient,
    AudioLassoError,
    AuthenticationError,
    BadRequestError,
    ExpiredError,
    FileTooLargeError,
    InsufficientCreditsError,
    LengthRequiredError,
    NotFoundError,
    NotReadyError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    UpstreamError,
)
from lassodrop_local.emulator import EmulatorServer

MAPPED: dict[int, type[AudioLassoError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: NotReadyError,
    410: ExpiredError,
    411: LengthRequiredError,
    413: FileTooLargeError,
    429: RateLimitedError,
    500: ServerError,
    502: UpstreamError,
    503: ServiceUnavailableError,
}


@pytest.fixture
def no_retry_client(emulator: EmulatorServer, api_key: str) -> Iterator[AudioLassoClient]:
    with AudioLassoClient(api_key, emulator.base_url, allow_local=True, max_retries=0) as client:
        yield client


@pytest.mark.parametrize(("status", "error_class"), MAPPED.items())
def test_each_error_status_from_the_service_raises_its_class_with_the_services_details(
    no_retry_client: AudioLassoClient,
    emulator: EmulatorServer,
    status: int,
    error_class: type[AudioLassoError],
) -> None:
    code = "REQUEST_NOT_READY" if status == 409 else "SOME_CODE"
    emulator.state.fail_next("models", status, code=code, message="Injected.")

    with pytest.raises(error_class) as caught:
        no_retry_client.models()

    assert type(caught.value) is error_class
    assert (caught.value.status_code, caught.value.code, caught.value.message) == (status, code, "Injected.")


def test_a_wrong_api_key_raises_authentication_error(emulator: EmulatorServer) -> None:
    client = AudioLassoClient("al_wrong", emulator.base_url, allow_local=True)

    with pytest.raises(AuthenticationError) as caught:
        client.models()

    assert caught.value.code == "UNAUTHENTICATED"


def test_a_key_without_the_scope_raises_permission_denied(emulator: EmulatorServer) -> None:
    emulator.state.add_key("al_read_only", {"files:read"})
    client = AudioLassoClient("al_read_only", emulator.base_url, allow_local=True)

    with pytest.raises(PermissionDeniedError) as caught:
        client.create_upload("a.wav", "audio/wav", 10)

    assert caught.value.code == "PERMISSION_DENIED"


def test_an_unknown_request_raises_not_found(client: AudioLassoClient) -> None:
    with pytest.raises(NotFoundError):
        client.status("req_does_not_exist")


def test_a_public_audio_url_check_failure_carries_its_param(client: AudioLassoClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.submit("isolate the vocal", audio_url="https://127.0.0.1/a.wav")

    assert (caught.value.code, caught.value.param) == ("INVALID_AUDIO_URL", "input.audio_url")
