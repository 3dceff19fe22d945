"""Every named move of the job row, tried from every status: allowed where the drawing says, else refused.

The table below is this test's own copy of the drawing in lassodrop/jobs/states.py, so removing or widening a
precondition in the store (or in its MOVES table) fails here.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from lassodrop.jobs import (
    SUBMIT_UNCONFIRMED,
    ClaimResult,
    Ending,
    Job,
    JobStore,
    ObjectDetails,
    Status,
    Waiting,
    WaitingFor,
)
from lassodrop_local.stack import clients_for_moto
from tests.fixtures.aws import create_jobs_table

NOW = 1_790_000_000
MOMENT = datetime.fromtimestamp(NOW, tz=UTC)
OBJECT_ID = "s3://bkt/a.wav?version=v1"
S = Status
ENDED = {S.COMPLETED, S.FAILED, S.TIMED_OUT, S.EXPIRED}
EVERY_END = ENDED | {S.REJECTED}

# A row that satisfies every extra precondition: its leases ran out, the caller holds attempt 1 and owner
# "worker", a submit was started without an answer, its event is unpublished with an expired lease, and it
# waits (when WAITING) in the upload step.
SEED = {
    "bucket": "bkt",
    "key": "a.wav",
    "version_id": "v1",
    "source_uri": "s3://bkt/a.wav",
    "attempts": 1,
    "lease_until": NOW - 10,
    "lease_owner": "worker",
    "event_published": False,
    "publish_lease_until": NOW - 10,
    "waiting_step": "upload",
}
WAITING = Waiting(WaitingFor.CREDITS, "no credits left")
DETAILS = ObjectDetails(size=1, content_type="audio/wav", prompt="p", prompt_source="default")


def _claim(store: JobStore) -> bool:
    claim = store.claim_upload("bkt", "a.wav", version_id="v1", etag=None, lease_seconds=900, ttl_days=1)
    return claim.result is ClaimResult.CLAIMED


def _reopen(store: JobStore, *, force: bool = False) -> bool:
    job = store.get(OBJECT_ID)
    return job is not None and store.reopen(job, prompt_override="again", force=force) is not None


Attempt = Callable[[JobStore], object]

# move -> (statuses it starts from, extra seed attributes, the call)
MOVES: dict[str, tuple[set[Status], dict[str, Any], Attempt]] = {
    "claim_upload": ({S.RECEIVED, S.UPLOADING, S.WAITING}, {}, _claim),
    "record_details": ({S.UPLOADING}, {}, lambda s: s.record_details(OBJECT_ID, attempt=1, details=DETAILS)),
    "record_upload": (
        {S.UPLOADING},
        {},
        lambda s: s.record_upload(
            OBJECT_ID, attempt=1, file_id="f", file_expires_at="2026-09-21T15:00:00.000Z"
        ),
    ),
    "mark_submit_started": ({S.UPLOADING}, {}, lambda s: s.mark_submit_started(OBJECT_ID, attempt=1)),
    "release_lease": ({S.UPLOADING}, {}, lambda s: s.release_lease(OBJECT_ID, attempt=1)),
    "mark_submit_unconfirmed": (
        {S.UPLOADING},
        {"submit_started_at": "2026-09-21T14:00:00.000Z"},
        lambda s: s.mark_submit_unconfirmed(OBJECT_ID, attempt=1, message="m", reason="r"),
    ),
    "mark_submitted": (
        {S.UPLOADING},
        {},
        lambda s: s.mark_submitted(OBJECT_ID, file_id="f", request_id="r", status_url=None, result_url=None),
    ),
    "mark_check_enqueued": (
        {S.SUBMITTED, S.COLLECTING, S.COMPLETED, S.TIMED_OUT, S.EXPIRED},
        {},
        lambda s: s.mark_check_enqueued(OBJECT_ID),
    ),
    "mark_rejected": (
        {S.RECEIVED, S.UPLOADING},
        {},
        lambda s: s.mark_rejected(OBJECT_ID, code="C", reason="r"),
    ),
    "mark_failed": (
        {S.RECEIVED, S.UPLOADING},
        {},
        lambda s: s.mark_failed(OBJECT_ID, code="C", message="m", reason="r"),
    ),
    "claim_check": ({S.SUBMITTED}, {}, lambda s: s.claim_check(OBJECT_ID, 0, MOMENT)),
    "release_check": ({S.SUBMITTED, S.COLLECTING}, {}, lambda s: s.release_check(OBJECT_ID, 0)),
    "wait_upload": ({S.UPLOADING}, {}, lambda s: s.wait_upload(OBJECT_ID, attempt=1, waiting=WAITING)),
    "wait_collect": (
        {S.SUBMITTED, S.COLLECTING},
        {},
        lambda s: s.wait_collect(OBJECT_ID, WAITING, MOMENT),
    ),
    "resume_collect": ({S.WAITING}, {"waiting_step": "collect"}, lambda s: s.resume_collect(OBJECT_ID)),
    "record_check": ({S.SUBMITTED}, {}, lambda s: s.record_check(OBJECT_ID, 1, 30)),
    "take_webhook_check": (
        {S.SUBMITTED, S.COLLECTING},
        {"webhook_checked_at": NOW - 61},
        lambda s: s.take_webhook_check(OBJECT_ID, MOMENT, 60),
    ),
    "record_check_failure": ({S.SUBMITTED}, {}, lambda s: s.record_check_failure(OBJECT_ID, "cause")),
    "claim_collect": (
        {S.SUBMITTED, S.COLLECTING},
        {},
        lambda s: s.claim_collect(OBJECT_ID, "w2", MOMENT, 900),
    ),
    "release_collect": ({S.COLLECTING}, {}, lambda s: s.release_collect(OBJECT_ID, "worker")),
    "finish with the lease": (
        {S.COLLECTING},
        {},
        lambda s: s.finish(OBJECT_ID, Ending(S.COMPLETED), MOMENT, owner="worker"),
    ),
    "finish without a lease": (
        {S.SUBMITTED, S.COLLECTING},
        {},
        lambda s: s.finish(OBJECT_ID, Ending(S.TIMED_OUT), MOMENT, owner=None),
    ),
    "claim_publish": (EVERY_END, {}, lambda s: s.claim_publish(OBJECT_ID, MOMENT)),
    "mark_published": (EVERY_END, {}, lambda s: s.mark_published(OBJECT_ID, "evt")),
    "reopen": (EVERY_END, {}, _reopen),
    "reopen forced": (EVERY_END, {}, lambda s: _reopen(s, force=True)),
}

# Where a move's extra precondition does not hold it is refused even from an allowed status.
UNMET: list[tuple[str, Status, dict[str, Any]]] = [
    ("claim_upload", S.UPLOADING, {"lease_until": NOW + 100}),
    ("claim_upload", S.UPLOADING, {"submit_started_at": "2026-09-21T14:00:00.000Z"}),
    ("claim_upload", S.WAITING, {"waiting_step": "collect"}),
    ("wait_upload", S.UPLOADING, {"attempts": 2}),
    ("wait_collect", S.COLLECTING, {"lease_until": NOW + 100}),
    ("resume_collect", S.WAITING, {"waiting_step": "upload"}),
    ("record_details", S.UPLOADING, {"attempts": 2}),
    ("record_upload", S.UPLOADING, {"attempts": 2}),
    ("mark_submit_started", S.UPLOADING, {"attempts": 2}),
    ("release_lease", S.UPLOADING, {"attempts": 2}),
    ("mark_submit_unconfirmed", S.UPLOADING, {"submit_started_at": None}),
    ("mark_submit_unconfirmed", S.UPLOADING, {"submit_started_at": "t", "request_id": "r"}),
    ("mark_submit_unconfirmed", S.UPLOADING, {"submit_started_at": "t", "attempts": 2}),
    ("claim_check", S.SUBMITTED, {"checks": 1}),
    ("claim_check", S.SUBMITTED, {"check_lease_until": NOW + 100}),
    ("release_check", S.SUBMITTED, {"checks": 1}),
    ("record_check", S.SUBMITTED, {"checks": 1}),
    ("take_webhook_check", S.SUBMITTED, {"webhook_checked_at": NOW - 60}),
    ("take_webhook_check", S.COLLECTING, {"webhook_checked_at": NOW}),
    ("claim_collect", S.COLLECTING, {"lease_until": NOW + 100}),
    ("release_collect", S.COLLECTING, {"lease_owner": "someone else"}),
    ("finish with the lease", S.COLLECTING, {"lease_owner": "someone else"}),
    ("finish without a lease", S.COLLECTING, {"lease_until": NOW + 100}),
    ("claim_publish", S.COMPLETED, {"event_published": True}),
    ("claim_publish", S.COMPLETED, {"publish_lease_until": NOW + 100}),
    ("mark_published", S.COMPLETED, {"event_published": True}),
    ("reopen", S.FAILED, {"error": {"code": SUBMIT_UNCONFIRMED, "message": "m"}}),
    ("reopen", S.COMPLETED, {"publish_lease_until": NOW + 100}),
    ("reopen forced", S.FAILED, {"publish_lease_until": NOW + 100}),
]


@pytest.fixture(scope="module")
def table() -> Iterator[Any]:
    """One table for the whole table of moves: each test only writes its own row."""
    with mock_aws():
        yield create_jobs_table(clients_for_moto().dynamodb)


@pytest.fixture
def store(table: Any) -> Iterator[JobStore]:
    yield JobStore(table, clock=lambda: float(NOW))
    table.delete_item(Key={"object_id": OBJECT_ID})


def _seed(store: JobStore, status: Status, extra: dict[str, Any]) -> Job:
    row = Job.from_item({"object_id": OBJECT_ID, "status": status, **SEED, **extra})
    store._table.put_item(Item=row.to_item())
    return row


def _moved(result: object) -> bool:
    return result is True or isinstance(result, Job)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("move", list(MOVES))
def test_every_move_is_allowed_exactly_from_its_statuses(store: JobStore, move: str, status: Status) -> None:
    sources, extra, attempt = MOVES[move]
    before = _seed(store, status, extra)

    moved = _moved(attempt(store))

    assert moved is (status in sources), f"{move} from {status}"
    if not moved:
        assert store.get(OBJECT_ID) == before


def test_a_new_row_can_only_be_claimed(store: JobStore) -> None:
    for move, (_, _, attempt) in MOVES.items():
        if move != "claim_upload":
            assert not _moved(attempt(store)), move
            assert store.get(OBJECT_ID) is None
    assert _claim(store)


@pytest.mark.parametrize(("move", "status", "unmet"), UNMET)
def test_a_move_is_refused_while_its_extra_precondition_does_not_hold(
    store: JobStore, move: str, status: Status, unmet: dict[str, Any]
) -> None:
    _, extra, attempt = MOVES[move]
    before = _seed(store, status, {**extra, **unmet})

    assert not _moved(attempt(store))
    assert store.get(OBJECT_ID) == before


def test_reopen_keeps_the_ended_attempt_and_clears_it_for_the_next(store: JobStore) -> None:
    # Given a FAILED row, its first attempt's request id, error and times on it
    failed = _seed(
        store,
        S.FAILED,
        {
            "request_id": "req_1",
            "submit_started_at": "t0",
            "submitted_at": "t1",
            "updated_at": "t2",
            "error": {"code": "PROCESSING_FAILED", "message": "m"},
            "reason": "r",
            "prompt": "p",
        },
    )

    # When it is reopened with a new prompt, and reopened again from the same (now stale) read
    reopened = store.reopen(failed, prompt_override="again")
    stale = store.reopen(failed)

    # Then it is RECEIVED with nothing of the first attempt but its summary in history, and reopened once
    assert reopened is not None
    assert stale is None
    assert (reopened.status, reopened.prompt_override, reopened.attempts) == (S.RECEIVED, "again", 1)
    assert (reopened.request_id, reopened.submit_started_at, reopened.error, reopened.lease_until) == (
        None,
        None,
        None,
        None,
    )
    [ended] = reopened.history or []
    assert (ended.attempt, ended.status, ended.request_id, ended.submitted_at, ended.ended_at) == (
        1,
        "FAILED",
        "req_1",
        "t1",
        "t2",
    )
    assert ended.error is not None
    assert ended.error.code == "PROCESSING_FAILED"
    assert store.get(OBJECT_ID) == reopened


def test_a_reopened_row_is_claimed_again_and_counts_its_attempt(store: JobStore) -> None:
    # Given a TIMED_OUT row that was reopened
    store.reopen(_seed(store, S.TIMED_OUT, {"submit_started_at": "t0", "request_id": "req_1"}))

    # Then ingest claims it like a new row, as attempt 2, the earlier submit forgotten
    assert _claim(store)
    claimed = store.get(OBJECT_ID)
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.submit_started_at) == (S.UPLOADING, 2, None)
