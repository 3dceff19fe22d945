"""The job row store against the template's table (moto): conditional claims, leases, fences, transitions."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lassodrop.jobs import (
    SUBMIT_UNCONFIRMED,
    ClaimResult,
    ConcurrentChangeError,
    Ending,
    JobError,
    JobStore,
    ObjectDetails,
    Status,
    Step,
    Waiting,
    WaitingFor,
    object_id_for,
)
from lassodrop.jobs.expression import UpdateExpression
from lassodrop.jobs.row import POINTER_ATTRIBUTES, WAITING_MESSAGE_CHARS


class Clock:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(jobs_table: Any, clock: Clock) -> JobStore:
    return JobStore(jobs_table, clock=clock)


def _claim(store: JobStore, key: str = "a.wav", version: str | None = "v1") -> Any:
    return store.claim_upload("bkt", key, version_id=version, etag="e1", lease_seconds=900, ttl_days=90)


def test_object_ids_use_the_version_else_the_bare_etag() -> None:
    assert object_id_for("b", "k k.wav", version_id="v1", etag='"e"') == "s3://b/k k.wav?version=v1"
    assert object_id_for("b", "k.wav", etag='"e"') == "s3://b/k.wav?etag=e"
    with pytest.raises(ValueError, match="version id or an ETag"):
        object_id_for("b", "k.wav")


def test_first_claim_creates_an_uploading_row_with_a_lease(store: JobStore, clock: Clock) -> None:
    claim = _claim(store)

    assert claim.result is ClaimResult.CLAIMED
    row = store.get(claim.job.object_id)
    assert row is not None
    assert (row.status, row.attempts, row.lease_until) == (Status.UPLOADING, 1, int(clock.now) + 900)
    assert (row.bucket, row.key, row.version_id, row.source_uri) == (
        "bkt",
        "a.wav",
        "v1",
        "s3://bkt/a.wav",
    )
    assert row.expires_at_epoch == int(clock.now) + 90 * 86_400
    assert row.created_at == row.updated_at == "2026-09-21T14:13:20.000Z"


def test_a_live_lease_is_reported_and_an_expired_one_is_taken_over(store: JobStore, clock: Clock) -> None:
    first = _claim(store)

    clock.now += 899
    held = _claim(store)
    clock.now += 2
    taken = _claim(store)

    assert held.result is ClaimResult.LEASE_HELD
    assert held.job.attempts == 1
    assert taken.result is ClaimResult.CLAIMED
    assert taken.job.attempts == 2
    assert taken.job.created_at == first.job.created_at


def test_a_released_lease_can_be_claimed_at_once(store: JobStore) -> None:
    first = _claim(store)

    assert store.release_lease(first.job.object_id, attempt=1) is not None
    assert _claim(store).result is ClaimResult.CLAIMED


def test_details_are_fenced_by_the_attempt_that_holds_the_lease(store: JobStore, clock: Clock) -> None:
    object_id = _claim(store).job.object_id
    clock.now += 1000
    _claim(store)  # attempt 2 takes over
    spans = [{"start": 0.5, "end": 1.5, "include": True}]

    assert store.record_details(object_id, attempt=1, details=_details()) is None
    recorded = store.record_details(object_id, attempt=2, details=_details(spans=spans))
    assert recorded is not None
    assert recorded.size == 5
    assert recorded.spans == spans


def _details(**overrides: Any) -> ObjectDetails:
    return ObjectDetails(
        **{"size": 5, "content_type": "audio/wav", "prompt": "p", "prompt_source": "default", **overrides}
    )


def test_a_submitted_row_is_never_claimed_again_and_is_found_by_request_id(store: JobStore) -> None:
    object_id = _claim(store).job.object_id
    submitted = store.mark_submitted(
        object_id, file_id="file_1", request_id="req_1", status_url="https://x/status", result_url=None
    )

    again = _claim(store)

    assert submitted is not None
    assert submitted.status is Status.SUBMITTED
    assert submitted.lease_until is None
    assert again.result is ClaimResult.ALREADY_SUBMITTED
    found = store.find_by_request_id("req_1")
    assert found is not None
    assert found.object_id == object_id
    assert found.status_url == "https://x/status"
    assert store.find_by_request_id("req_unknown") is None


def test_rejected_rows_are_finished(store: JobStore) -> None:
    object_id = _claim(store).job.object_id
    store.mark_rejected(object_id, code="EMPTY_OBJECT", reason="the object is empty")

    claim = _claim(store)

    assert claim.result is ClaimResult.FINISHED
    assert claim.job.error == JobError("EMPTY_OBJECT", "the object is empty")
    assert claim.job.reason == "the object is empty"


def test_moves_only_start_from_their_statuses(store: JobStore) -> None:
    object_id = _claim(store).job.object_id
    store.mark_submitted(object_id, file_id="f", request_id="r", status_url=None, result_url=None)
    now = datetime.fromtimestamp(1_790_000_000, tz=UTC)
    outputs = {"target": {"uri": "s3://o/t.wav"}}

    wrong = store.finish(object_id, Ending(Status.COMPLETED), now, owner="nobody")
    polled = store.record_check(object_id, 1, 60)
    polled_again = store.record_check(object_id, 2, 120)
    done = store.finish(object_id, Ending(Status.COMPLETED, outputs=outputs), now, owner=None)
    after = store.get(object_id)

    assert wrong is None
    assert polled
    assert polled_again
    assert done is not None
    assert done.status is Status.COMPLETED
    assert done.is_terminal
    assert done.outputs == outputs
    assert (done.checks, done.next_check_delay) == (2, 120)
    assert after == done
    assert store.record_check(object_id, 3, 240) is False


def test_a_move_with_an_extra_condition_waits_for_it(store: JobStore) -> None:
    object_id = _claim(store).job.object_id
    store.mark_submitted(object_id, file_id="f", request_id="r", status_url=None, result_url=None)
    now = datetime.fromtimestamp(1_790_000_000, tz=UTC)
    assert store.claim_collect(object_id, "worker-a", now, 900)

    refused = store.claim_collect(object_id, "worker-b", now, 900)
    allowed = store.claim_collect(object_id, "worker-b", now + timedelta(seconds=901), 900)

    assert refused is False
    assert allowed is True
    row = store.get(object_id)
    assert row is not None
    assert row.lease_owner == "worker-b"


def test_a_move_of_a_missing_row_changes_nothing(store: JobStore) -> None:
    now = datetime.fromtimestamp(1_790_000_000, tz=UTC)
    assert store.finish("s3://b/none?etag=e", Ending(Status.FAILED), now, owner=None) is None
    assert store.get("s3://b/none?etag=e") is None


def test_a_row_cannot_grow_attributes_outside_the_model(store: JobStore) -> None:
    object_id = _claim(store).job.object_id

    with pytest.raises(ValueError, match="not an attribute"):
        store._move("record_check", object_id, sets={"ratio": 0.5})


def test_a_webhook_pointer_resolves_to_its_row_and_is_never_overwritten(
    store: JobStore, jobs_table: Any, clock: Clock
) -> None:
    object_id = _claim(store).job.object_id

    written = store.create_webhook_pointer("hookId1", object_id, ttl_days=90)

    assert store.resolve_webhook("hookId1") == written
    assert (written.points_to, written.expires_at_epoch) == (object_id, int(clock.now) + 90 * 86_400)
    assert jobs_table.get_item(Key={"object_id": "hook#hookId1"})["Item"] == {
        "object_id": "hook#hookId1",
        "points_to": object_id,
        "expires_at_epoch": int(clock.now) + 90 * 86_400,
    }
    with pytest.raises(ConcurrentChangeError):
        store.create_webhook_pointer("hookId1", "s3://bkt/other.wav?version=v9", ttl_days=90)
    assert store.resolve_webhook("hookId1") == written
    assert store.resolve_webhook("unknown") is None
    # The pointer is no row: finding rows by source never meets it
    assert [row.object_id for row in store.find_by_source("bkt", "a.wav")] == [object_id]


def test_a_webhook_pointer_cannot_grow_attributes_outside_its_model() -> None:
    expression = UpdateExpression(POINTER_ATTRIBUTES)

    with pytest.raises(ValueError, match="not an attribute"):
        expression.set_all({"webhook_token": "t"})


def test_rows_for_a_source_are_listed_newest_first(store: JobStore, clock: Clock) -> None:
    _claim(store, version="v1")
    clock.now += 60
    _claim(store, version="v2")
    _claim(store, key="other.wav")

    rows = store.find_by_source("bkt", "a.wav")

    assert [row.version_id for row in rows] == ["v2", "v1"]


def test_collect_moves_are_fenced_on_the_lease_owner(store: JobStore) -> None:
    object_id = _claim(store).job.object_id
    store.mark_submitted(object_id, file_id="f", request_id="r", status_url=None, result_url=None)
    now = datetime.fromtimestamp(1_790_000_000, tz=UTC)
    store.claim_collect(object_id, "worker-a", now, 900)

    stale = store.release_collect(object_id, "worker-b")
    stale_end = store.finish(object_id, Ending(Status.EXPIRED), now, owner="worker-b")
    current = store.finish(object_id, Ending(Status.EXPIRED, "gone"), now, owner="worker-a")

    assert stale is False
    assert stale_end is None
    assert current is not None
    assert (current.status, current.reason, current.lease_owner, current.lease_until) == (
        Status.EXPIRED,
        "gone",
        None,
        None,
    )


def _start_submit(store: JobStore) -> str:
    object_id = _claim(store).job.object_id
    assert store.mark_submit_started(object_id, attempt=1) is not None
    return object_id


def test_a_row_whose_submit_started_is_never_claimed_again(store: JobStore, clock: Clock) -> None:
    # Given a worker that noted its submit and then died (its lease ran out)
    object_id = _start_submit(store)
    clock.now += 1000

    # When a redelivery tries to claim the row
    claim = _claim(store)

    # Then the row is reported as an unconfirmed submit, untouched: no new attempt, no new lease
    assert claim.result is ClaimResult.SUBMIT_UNCONFIRMED
    row = store.get(object_id)
    assert row is not None
    assert (row.status, row.attempts, row.lease_until) == (Status.UPLOADING, 1, int(clock.now) - 1000 + 900)


def test_a_started_submit_under_a_live_lease_is_reported_as_held(store: JobStore) -> None:
    _start_submit(store)

    assert _claim(store).result is ClaimResult.LEASE_HELD


def test_a_lease_released_after_a_refused_submit_can_be_claimed_again(store: JobStore) -> None:
    object_id = _start_submit(store)

    released = store.release_lease(object_id, attempt=1, submit_refused=True)

    assert released is not None
    assert released.submit_started_at is None
    assert _claim(store).result is ClaimResult.CLAIMED


def test_a_recorded_upload_and_a_release_cause_survive_into_the_next_claim(store: JobStore) -> None:
    object_id = _claim(store).job.object_id

    store.record_upload(object_id, attempt=1, file_id="file_1", file_expires_at="2026-09-21T15:00:00.000Z")
    store.release_lease(object_id, attempt=1, cause="AudioLasso unreachable: connection refused")
    again = _claim(store)

    assert again.result is ClaimResult.CLAIMED
    assert (again.job.file_id, again.job.file_expires_at) == ("file_1", "2026-09-21T15:00:00.000Z")
    assert (again.job.attempts, again.job.last_cause) == (2, "AudioLasso unreachable: connection refused")


def test_a_failed_check_is_counted_with_its_cause(store: JobStore) -> None:
    object_id = _claim(store).job.object_id
    store.mark_submitted(object_id, file_id="f", request_id="r", status_url=None, result_url=None)

    store.record_check_failure(object_id, "AudioLasso unreachable: timed out")
    row = store.record_check_failure(object_id, "AudioLasso failed: 502 UPSTREAM_FAILED")

    assert row is not None
    assert (row.check_failures, row.last_cause) == (2, "AudioLasso failed: 502 UPSTREAM_FAILED")


def test_a_plain_release_keeps_the_submit_marker(store: JobStore) -> None:
    object_id = _start_submit(store)

    released = store.release_lease(object_id, attempt=1)

    assert released is not None
    assert released.submit_started_at
    assert _claim(store).result is ClaimResult.SUBMIT_UNCONFIRMED


def test_only_the_attempt_holding_the_lease_may_start_a_submit(store: JobStore, clock: Clock) -> None:
    object_id = _claim(store).job.object_id
    clock.now += 1000
    _claim(store)  # attempt 2 takes over

    assert store.mark_submit_started(object_id, attempt=1) is None
    assert store.mark_submit_started(object_id, attempt=2) is not None


def test_an_unconfirmed_submit_is_failed_for_good(store: JobStore) -> None:
    object_id = _start_submit(store)

    failed = store.mark_submit_unconfirmed(object_id, attempt=1, message="ReadTimeout", reason="why")

    assert failed is not None
    assert failed.status is Status.FAILED
    assert failed.error == JobError(SUBMIT_UNCONFIRMED, "ReadTimeout")
    assert (failed.reason, failed.lease_until) == ("why", None)
    assert _claim(store).result is ClaimResult.FINISHED


def test_an_unconfirmed_submit_needs_a_started_submit_and_the_seen_lease(
    store: JobStore, clock: Clock
) -> None:
    # Given a row that never started a submit, and one whose lease changed since it was seen
    never_started = _claim(store, key="n.wav").job.object_id
    started = _claim(store, key="s.wav").job.object_id
    seen = store.mark_submit_started(started, attempt=1)
    assert seen is not None
    store.release_lease(started, attempt=1)

    # When either is failed as unconfirmed
    not_started = store.mark_submit_unconfirmed(never_started, attempt=1, message="m", reason="r")
    stale_lease = store.mark_submit_unconfirmed(
        started, attempt=1, message="m", reason="r", lease_until=seen.lease_until
    )

    # Then neither write happens
    assert not_started is None
    assert stale_lease is None


WAITING = Waiting(WaitingFor.CREDITS, "The account has no credits left. " * 20)


def test_an_upload_that_waits_keeps_its_file_and_is_claimed_again_without_its_lease_or_marker(
    store: JobStore, clock: Clock
) -> None:
    # Given an upload whose submit AudioLasso refused for want of credits
    claim = _claim(store)
    store.mark_submit_started(claim.job.object_id, attempt=1)

    waiting = store.wait_upload(claim.job.object_id, attempt=1, waiting=WAITING, file_id="file_1")

    # Then the row waits in the upload step, says why (shortly), and keeps the uploaded file
    assert waiting is not None
    assert (waiting.status, waiting.waiting_for, waiting.waiting_step) == (
        Status.WAITING,
        WaitingFor.CREDITS,
        Step.UPLOAD,
    )
    assert waiting.waiting_message is not None
    assert len(waiting.waiting_message) == WAITING_MESSAGE_CHARS
    assert waiting.waiting_since
    assert (waiting.file_id, waiting.lease_until, waiting.submit_started_at) == ("file_1", None, None)
    # And the next delivery claims it at once, counting the attempt and clearing why it waited
    again = _claim(store)
    assert again.result is ClaimResult.CLAIMED
    assert (again.job.status, again.job.attempts, again.job.file_id) == (Status.UPLOADING, 2, "file_1")
    assert (again.job.waiting_for, again.job.waiting_since, again.job.waiting_step) == (None, None, None)


def test_a_job_waiting_in_collect_is_already_submitted_for_ingest_and_resumes_as_submitted(
    store: JobStore,
) -> None:
    claim = _claim(store)
    object_id = claim.job.object_id
    store.mark_submitted(object_id, file_id="f", request_id="req_1", status_url=None, result_url=None)

    waiting = store.wait_collect(object_id, WAITING, datetime.now(UTC))

    assert waiting is not None
    assert (waiting.status, waiting.waiting_step) == (Status.WAITING, Step.COLLECT)
    assert _claim(store).result is ClaimResult.ALREADY_SUBMITTED
    resumed = store.resume_collect(object_id)
    assert resumed is not None
    assert (resumed.status, resumed.request_id, resumed.waiting_for) == (Status.SUBMITTED, "req_1", None)
