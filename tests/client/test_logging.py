import logging

import pytest

from lassodrop.audiolasso import AudioLassoClient
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import pcm_wav

from .helpers import Opener


def test_the_library_adds_no_handlers_and_logs_only_at_debug(
    client: AudioLassoClient, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.state.fail_next("models", 500)

    with caplog.at_level(logging.DEBUG, logger="lassodrop.audiolasso"):
        client.models()

    records = _client_records(caplog)
    assert records
    assert {record.levelno for record in records} == {logging.DEBUG}
    assert logging.getLogger("lassodrop.audiolasso.client").handlers == []


def test_logs_and_repr_never_show_the_api_key_or_a_signed_query(
    client: AudioLassoClient, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = pcm_wav()

    with caplog.at_level(logging.DEBUG, logger="lassodrop.audiolasso"):
        client.upload("a.wav", "audio/wav", len(data), Opener(data))

    text = "\n".join(record.getMessage() for record in _client_records(caplog))
    assert text
    assert api_key not in text + repr(client)
    assert "sig=" not in text


def _client_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith("lassodrop.audiolasso")]
