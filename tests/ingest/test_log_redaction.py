"""A failing upload to a signed URL leaves no trace of its query in what ingest logs or records."""

import dataclasses
from collections.abc import Callable

import pytest

from lassodrop.audiolasso import AudioLassoClient, Upload
from lassodrop.audiolasso.redact import MAX_ERROR_TEXT
from lassodrop.jobs import Status
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.fixtures.signed_storage import FailingStorage, LogCapture, assert_no_signed_url, refused_url

from .conftest import Ingest, Stack


def _sign_uploads_at(monkeypatch: pytest.MonkeyPatch, url_for: Callable[[str], str]) -> None:
    """Every upload AudioLasso creates gets the presigned storage URL `url_for(path)` instead of its own."""
    create = AudioLassoClient.create_upload

    def create_signed(self: AudioLassoClient, *args: object) -> Upload:
        upload = create(self, *args)  # type: ignore[arg-type]
        return dataclasses.replace(upload, upload_url=url_for(f"/inputs/{upload.file_id}"))

    monkeypatch.setattr(AudioLassoClient, "create_upload", create_signed)


def test_a_refused_connection_to_the_signed_put_url_is_logged_without_its_query(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given upload URLs on a storage host that refuses connections
    _sign_uploads_at(monkeypatch, refused_url)
    stack.drop("refused.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()

    # When the object is delivered, with everything logged at DEBUG
    with LogCapture(caplog).capturing() as logs:
        response = ingest(event)

    # Then the record fails for a retry, its log line names the cause, and nothing of the signed query shows
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    text = logs.text()
    assert "AudioLasso unreachable" in text
    assert "ConnectionRefusedError" in text
    assert_no_signed_url(text)


def test_a_403_from_the_signed_put_url_is_recorded_short_and_without_the_signature(
    stack: Stack,
    ingest: Ingest,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a storage host answering every PUT with S3's 403, which echoes the signature it was given
    with FailingStorage("forbidden") as storage:
        _sign_uploads_at(monkeypatch, storage.url)
        stack.drop("forbidden.wav", riff_blob(2048), ContentType="audio/wav")
        event = stack.receive_ingest()

        # When the object is delivered, with everything logged at DEBUG
        with LogCapture(caplog).capturing() as logs:
            response = ingest(event)

    # Then the row is failed with S3's code and message only, and nothing of the signed query shows anywhere
    assert response == {"batchItemFailures": []}
    assert storage.paths
    [row] = stack.rows()
    assert row.status == Status.FAILED
    assert row.error is not None
    assert row.error.message.startswith("SignatureDoesNotMatch: The request signature we calculated")
    assert len(row.error.message) <= MAX_ERROR_TEXT
    logs.extra.append(repr(row))
    assert_no_signed_url(logs.text())
    assert not emulator.state.submissions
