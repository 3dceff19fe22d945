"""Every end ingest writes is published as well: a rejected or refused object leaves a trace outside the table."""

import pytest

from lassodrop.events import PublishError
from lassodrop.jobs import Job, Status
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.ingest.conftest import Ingest, Stack


def _only_row(stack: Stack) -> Job:
    rows = stack.rows()
    assert len(rows) == 1
    return rows[0]


def test_rejected_object_publishes_one_separation_rejected_event_with_its_code(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a text file dropped among the audio
    stack.drop("notes.txt", b"minutes of the meeting, not audio", ContentType="text/plain")

    # When it is delivered
    ingest(stack.receive_ingest())

    # Then one Separation Rejected event names the object, its code and the reason, and the row says so
    row = _only_row(stack)
    [event] = stack.published_events()
    assert (event["source"], event["detail-type"]) == ("lassodrop", "Separation Rejected")
    detail = event["detail"]
    assert (detail["object_id"], detail["key"], detail["status"]) == (row.object_id, "notes.txt", "REJECTED")
    assert detail["error"]["code"] == row.error.code
    assert detail["reason"] == row.reason
    assert detail["dedup_id"] == f"{row.object_id}:REJECTED"
    assert row.event_published is True
    assert emulator.state.submissions == []


def test_submit_refused_for_good_publishes_separation_failed_with_the_services_code(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given AudioLasso refusing the submit with a terminal 422
    emulator.state.fail_next("submit", 422, code="UNPROCESSABLE_AUDIO", message="no audio stream found")
    stack.drop("silence.wav", riff_blob(2048), ContentType="audio/wav")

    # When it is delivered
    ingest(stack.receive_ingest())

    # Then the row is FAILED and one Separation Failed event carries the service's code
    row = _only_row(stack)
    assert row.status == Status.FAILED
    [event] = stack.published_events()
    assert event["detail-type"] == "Separation Failed"
    assert event["detail"]["error"]["code"] == "UNPROCESSABLE_AUDIO"


def test_event_lost_at_publish_is_published_once_by_the_redelivery(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given EventBridge refusing the first PutEvents entry
    stack.drop("empty.wav", b"", ContentType="audio/wav")
    event = stack.receive_ingest()
    publisher = ingest.service.publisher
    real_publish = publisher.publish
    calls: list[str] = []

    def refuse_once(detail_type: str, detail: dict) -> str:
        calls.append(detail_type)
        if len(calls) == 1:
            raise PublishError("InternalFailure: try again")
        return real_publish(detail_type, detail)

    monkeypatch.setattr(publisher, "publish", refuse_once)

    # When the message fails, its publish lease runs out, and it is delivered again
    first = ingest(event)
    row = _only_row(stack)
    assert (row.status, row.event_published) == (Status.REJECTED, False)
    stack.table.update_item(
        Key={"object_id": row.object_id},
        UpdateExpression="SET publish_lease_until = :gone",
        ExpressionAttributeValues={":gone": 0},
    )
    second = ingest(event)
    third = ingest(event)

    # Then the first delivery was retried, and exactly one event reached the bus
    assert first["batchItemFailures"]
    assert second == third == {"batchItemFailures": []}
    assert [e["detail-type"] for e in stack.published_events()] == ["Separation Rejected"]
    assert _only_row(stack).event_published is True
