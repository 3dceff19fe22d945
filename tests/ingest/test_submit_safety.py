"""A submit is never sent twice: the API has no idempotency key, and a second submit may bill a second job."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from lassodrop.audiolasso import AudioLassoClient
from lassodrop.jobs import SUBMIT_UNCONFIRMED, Job, Status
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.ingest.conftest import Ingest, Stack
from tests.support import wait_until


def _only_row(stack: Stack) -> Job:
    rows = stack.rows()
    assert len(rows) == 1, rows
    return rows[0]


def _assert_failed_unconfirmed(stack: Stack) -> Job:
    row = _only_row(stack)
    assert row.status is Status.FAILED
    assert row.error.code == SUBMIT_UNCONFIRMED
    assert "upload the object again" in row.reason
    assert row.lease_until is None
    assert row.request_id is None
    return row


def test_submit_whose_answer_is_lost_fails_unconfirmed_and_a_redelivery_does_not_resubmit(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a submit that creates the job but whose answer never arrives (a gateway's 504 instead)
    emulator.state.fail_next("submit", 504, process=True)
    stack.drop("lost.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()

    # When the message is delivered, and delivered again
    first = ingest(event)
    second = ingest(event)

    # Then neither delivery fails (nothing to retry), the row says what happened, and one job exists
    assert first == second == {"batchItemFailures": []}
    row = _assert_failed_unconfirmed(stack)
    assert row.submit_started_at
    assert row.attempts == 1
    assert len(emulator.state.submissions) == 1
    assert len(emulator.state.uploads) == 1
    # And no status check was queued for a job whose request id nobody knows
    assert stack.check_messages() == []


def test_submit_timing_out_after_sending_fails_unconfirmed(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, api_key: str
) -> None:
    # Given AudioLasso slower to answer a submit than the client waits (the connection is given up on)
    ingest.service.client = lambda: AudioLassoClient(
        api_key, emulator.base_url, allow_local=True, timeout=(2.0, 0.2)
    )
    emulator.state.set_latency(0.6, route="submit")
    stack.drop("slow.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()

    # When the message is delivered
    response = ingest(event)

    # Then the row is failed as unconfirmed; the job the emulator still created is the only one
    assert response == {"batchItemFailures": []}
    _assert_failed_unconfirmed(stack)
    wait_until(lambda: len(emulator.state.submissions) == 1, timeout=5.0)
    assert ingest(event) == {"batchItemFailures": []}
    assert len(emulator.state.submissions) == 1


def _row_left_mid_submit(stack: Stack, key: str, put: dict[str, Any], lease_until: int) -> str:
    return stack.put_stale_upload_row(
        key,
        put,
        lease_until,
        file_id="file_01uploadedbeforethecrash",
        submit_started_at="2026-11-24T00:00:01.000Z",
    )


def test_worker_that_died_mid_submit_leaves_a_row_failed_unconfirmed_not_resubmitted(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a row left UPLOADING by a worker that crashed after starting its submit, its lease expired
    put = stack.drop("crash.wav", riff_blob(1024), ContentType="audio/wav")
    _row_left_mid_submit(stack, "crash.wav", put, lease_until=1_000)

    # When the message is redelivered
    response = ingest(stack.receive_ingest())

    # Then the row is failed as unconfirmed, and nothing was uploaded or submitted again
    assert response == {"batchItemFailures": []}
    row = _assert_failed_unconfirmed(stack)
    assert row.attempts == 1
    assert emulator.state.uploads == []
    assert emulator.state.submissions == []
    assert stack.check_messages() == []


def test_duplicate_while_a_worker_is_inside_its_submit_lease_is_acknowledged(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a row whose submit is under way under a live lease
    put = stack.drop("busy.wav", riff_blob(1024), ContentType="audio/wav")
    _row_left_mid_submit(stack, "busy.wav", put, lease_until=4_000_000_000)
    event = stack.receive_ingest()

    # When a duplicate event arrives
    response = ingest(event)

    # Then it is acknowledged at once (that worker's own message carries the object), and the row is left
    # to its worker
    assert response == {"batchItemFailures": []}
    assert _only_row(stack).status is Status.UPLOADING
    assert emulator.state.submissions == []


@pytest.mark.parametrize("status", [500, 502])
def test_submit_the_service_answers_as_failed_is_retried_on_redelivery_and_submits_one_job(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, status: int
) -> None:
    # Given a submit answered with the service's own failure, nothing created (the docs say retry)
    emulator.state.fail_next("submit", status)
    stack.drop("flaky.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()

    # When the message is delivered, fails, and is redelivered
    first = ingest(event)
    released = _only_row(stack)
    second = ingest(event)

    # Then the first delivery released the row with its submit marker cleared, and the second submitted
    assert first == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert (released.status, released.lease_until, released.submit_started_at) == (
        Status.UPLOADING,
        0,
        None,
    )
    assert second == {"batchItemFailures": []}
    assert len(emulator.state.submissions) == 1
    row = _only_row(stack)
    assert (row.status, row.attempts) == (Status.SUBMITTED, 2)


def test_error_after_the_submit_went_out_never_leads_to_a_second_submit(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a submit that succeeds, but the write of its request id fails
    stack.drop("lost-write.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()
    jobs = ingest.service.jobs
    real_write = jobs.mark_submitted
    failures = [ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "UpdateItem")]

    def failing_once(*args: Any, **kwargs: Any) -> Job | None:
        if failures:
            raise failures.pop()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(jobs, "mark_submitted", failing_once)

    # When the message is delivered (and fails), then redelivered with the table healthy again
    first = ingest(event)
    second = ingest(event)

    # Then the redelivery does not submit again: the row ends failed as unconfirmed
    assert first == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert second == {"batchItemFailures": []}
    _assert_failed_unconfirmed(stack)
    assert len(emulator.state.submissions) == 1
