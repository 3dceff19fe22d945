"""Through the deployed handler: AudioLasso is sent what an object's bytes are, not what it is called."""

from typing import Any

import pytest

from lassodrop.jobs import Status
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.media_files import media_bytes
from tests.ingest.conftest import Ingest, Stack, sha256


def _only_row(stack: Stack) -> Any:
    rows = stack.rows()
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    ("fixture", "sent_as"),
    [("tone-id3.mp3", "audio/mpeg"), ("tone-bare.mp3", "audio/mpeg"), ("tone.flac", "audio/flac")],
)
def test_audio_misnamed_as_wav_is_sent_as_its_real_container(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, fixture: str, sent_as: str
) -> None:
    # Given real audio of another format named take.wav and declared audio/x-wav
    data = media_bytes(fixture)
    stack.drop("take.wav", data, ContentType="audio/x-wav")

    # When it is delivered
    ingest(stack.receive_ingest())

    # Then the same bytes went to AudioLasso under the type the bytes name, and the row records that type
    [upload] = emulator.state.uploads
    assert (upload.sha256, upload.content_type) == (sha256(data), sent_as)
    assert _only_row(stack).content_type == sent_as
    assert len(emulator.state.submissions) == 1


@pytest.mark.parametrize(
    ("fixture", "named"),
    [
        ("png.wav", "image/png"),
        ("zip.wav", "application/zip"),
        ("text.wav", "text/plain"),
        ("one-byte.wav", "1-byte"),
    ],
)
def test_a_file_that_only_pretends_to_be_wav_is_rejected_and_never_uploaded(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, fixture: str, named: str
) -> None:
    # Given a file that is not audio, named .wav and declared audio/wav
    stack.drop(f"inbox/{fixture}", media_bytes(fixture), ContentType="audio/wav")

    # When it is delivered
    response = ingest(stack.receive_ingest())

    # Then the record succeeds, the row is REJECTED saying what the bytes are, and nothing reached AudioLasso
    assert response == {"batchItemFailures": []}
    row = _only_row(stack)
    assert row.status == Status.REJECTED
    assert row.error.code == "UNSUPPORTED_CONTENT_TYPE"
    assert named in row.reason
    assert emulator.state.uploads == []
    assert emulator.state.submissions == []
    assert stack.check_messages() == []
