"""A retry after a refused submit submits the file already uploaded, while it is still usable."""

import time

import pytest

from lassodrop.ingest.service import FILE_REUSE_MARGIN_SECONDS
from lassodrop.jobs import Job, Status
from lassodrop.timestamps import iso, parse_iso
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.ingest.conftest import Ingest, Stack


def _only_row(stack: Stack) -> Job:
    rows = stack.rows()
    assert len(rows) == 1, rows
    return rows[0]


def _refused_once(stack: Stack, ingest: Ingest, emulator: EmulatorServer) -> tuple[dict, Job]:
    """Deliver one object whose first submit AudioLasso answers 502; returns the event and the row after."""
    emulator.state.fail_next("submit", 502)
    stack.drop("flaky.wav", riff_blob(4096), ContentType="audio/wav")
    event = stack.receive_ingest()
    failed = ingest(event)
    assert failed == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    return event, _only_row(stack)


def test_502_on_submit_then_success_uploads_once_and_submits_once(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a first delivery whose submit AudioLasso refused with 502, after the upload
    event, released = _refused_once(stack, ingest, emulator)

    # When the message is redelivered
    response = ingest(event)

    # Then the file uploaded the first time is the one submitted: one upload, one job
    assert response == {"batchItemFailures": []}
    assert len(emulator.state.files) == 1
    assert [upload.file_id for upload in emulator.state.uploads] == [released.file_id]
    assert [body["input"]["file_id"] for body in emulator.state.submissions] == [released.file_id]
    row = _only_row(stack)
    assert (row.status, row.attempts, row.file_id) == (Status.SUBMITTED, 2, released.file_id)
    # And the row had recorded the upload's life, about the emulator's hour-long upload URL
    expires = parse_iso(released.file_expires_at)
    assert expires is not None
    assert 3000 < expires.timestamp() - time.time() <= 3600


def test_a_recorded_upload_near_its_expiry_is_uploaded_again(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a refused submit, and a recorded upload now within the safety margin of its expiry
    event, released = _refused_once(stack, ingest, emulator)
    soon = iso(time.time() + FILE_REUSE_MARGIN_SECONDS - 60)
    stack.table.update_item(
        Key={"object_id": released.object_id},
        UpdateExpression="SET file_expires_at = :soon",
        ExpressionAttributeValues={":soon": soon},
    )

    # When the message is redelivered
    assert ingest(event) == {"batchItemFailures": []}

    # Then the object is uploaded afresh and that new file is the one submitted
    uploads = [upload.file_id for upload in emulator.state.uploads]
    assert len(uploads) == 2
    assert uploads[0] == released.file_id
    assert [body["input"]["file_id"] for body in emulator.state.submissions] == [uploads[1]]
    assert _only_row(stack).file_id == uploads[1]


@pytest.mark.parametrize("loss", ["forgotten", "expired"])
def test_a_recorded_file_the_service_no_longer_has_is_uploaded_again_once(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, loss: str
) -> None:
    # Given a refused submit, then AudioLasso losing the uploaded file early (404) or calling it expired (410)
    event, released = _refused_once(stack, ingest, emulator)
    if loss == "forgotten":
        emulator.state.files.pop(str(released.file_id))
    else:
        emulator.state.fail_next("submit", 410)

    # When the message is redelivered
    assert ingest(event) == {"batchItemFailures": []}

    # Then the same delivery uploads once more and submits the new file: one job
    uploads = [upload.file_id for upload in emulator.state.uploads]
    assert len(uploads) == 2
    assert [body["input"]["file_id"] for body in emulator.state.submissions] == [uploads[1]]
    assert _only_row(stack).status is Status.SUBMITTED


def test_a_fresh_upload_the_service_calls_expired_too_is_not_uploaded_a_third_time(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a refused submit, then both the reused file and the fresh upload answered 410 at submit
    event, _ = _refused_once(stack, ingest, emulator)
    emulator.state.fail_next("submit", 410, count=2)

    # When the message is redelivered
    assert ingest(event) == {"batchItemFailures": []}

    # Then the row is failed with the service's answer after exactly one more upload
    assert len(emulator.state.uploads) == 2
    assert emulator.state.submissions == []
    row = _only_row(stack)
    assert (row.status, row.error.code if row.error else None) == (Status.FAILED, "EXPIRED")
