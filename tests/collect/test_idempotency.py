import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lassodrop.events import PublishError
from lassodrop.jobs import Ending, Status
from lassodrop.messages import CheckMessage
from tests.collect.conftest import Pipeline
from tests.fixtures.aws import CallCounter

WRITES = ("PutObject", "CreateMultipartUpload")


def check(object_id: str, reason: str) -> CheckMessage:
    return CheckMessage(object_id, None, reason)


def test_duplicate_check_after_completion_changes_nothing(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("dup.wav")
    collector = pipeline.collector()
    assert collector.handle(check(object_id, "first-check")) == "COMPLETED"
    writes = CallCounter(pipeline.stack.s3, *WRITES)
    before = pipeline.row(object_id)

    outcome = collector.handle(check(object_id, "first-check"))

    assert outcome == "already-terminal"
    assert writes.counts == dict.fromkeys(WRITES, 0)
    assert pipeline.row(object_id) == before
    assert len(pipeline.stack.events()) == 1


def test_webhook_arriving_mid_collection_is_dropped_at_once_and_writes_nothing(pipeline: Pipeline) -> None:
    # Given a poll that is copying outputs when the webhook's check arrives
    object_id = pipeline.drop("race.wav")
    poll, webhook = pipeline.collector(), pipeline.collector()
    writes = CallCounter(pipeline.stack.s3, *WRITES)
    seen: list[str] = []
    first_write = threading.Lock()  # both stems are written at once: only one of them lets the webhook in

    def webhook_during_first_write(**_: Any) -> None:
        with first_write:
            if not seen:
                seen.append(webhook.handle(check(object_id, "webhook")))

    pipeline.stack.s3.meta.events.register("before-call.s3.PutObject", webhook_during_first_write)

    # When both are processed
    assert poll.handle(check(object_id, "poll")) == "COMPLETED"

    # Then the webhook's check was acknowledged at once (the poll holds the lease and its own message),
    # nothing was re-queued for it, and everything was written once
    assert seen == ["collecting-elsewhere"]
    assert pipeline.stack.sent.bodies == []
    assert writes.counts == {"PutObject": 3, "CreateMultipartUpload": 0}
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Completed"]


def test_two_checks_that_both_saw_completed_collect_once(pipeline: Pipeline) -> None:
    # Given two checks that both read COMPLETED before either claimed the job
    object_id = pipeline.drop("both.wav")
    first, second = pipeline.collector(), pipeline.collector()
    writes = CallCounter(pipeline.stack.s3, *WRITES)
    real_result = pipeline.client.result
    outcomes: list[str] = []
    interleaved: list[bool] = []

    def result_after_the_other_check_finished(*args: Any, **kwargs: Any) -> Any:
        if not interleaved:
            interleaved.append(True)
            outcomes.append(second.handle(check(object_id, "webhook")))
        return real_result(*args, **kwargs)

    pipeline.client.result = result_after_the_other_check_finished  # type: ignore[method-assign]

    # When the slower one tries to claim, it finds the job finished, and a redelivery is a no-op too
    slower = first.handle(check(object_id, "poll"))
    redelivered = first.handle(check(object_id, "poll"))

    assert outcomes == ["COMPLETED"]
    assert slower == redelivered == "already-terminal"
    assert writes.counts == {"PutObject": 3, "CreateMultipartUpload": 0}
    assert len(pipeline.stack.events()) == 1


def test_crash_between_terminal_write_and_publish_publishes_exactly_once_on_redelivery(
    pipeline: Pipeline,
) -> None:
    # Given PutEvents fails right after the row was marked COMPLETED
    object_id = pipeline.drop("crash.wav")
    collector = pipeline.collector()
    real_publish = collector.publisher.publish

    def broken(*args: Any, **kwargs: Any) -> str:
        raise PublishError("InternalFailure: simulated")

    collector.publisher.publish = broken  # type: ignore[method-assign]
    with pytest.raises(PublishError):
        collector.handle(check(object_id, "first-check"))
    assert pipeline.row(object_id)["status"] == "COMPLETED"
    assert pipeline.row(object_id)["event_published"] is False
    collector.publisher.publish = real_publish  # type: ignore[method-assign]
    writes = CallCounter(pipeline.stack.s3, *WRITES)

    # When the message is redelivered inside the writer's publish lease, then after it
    inside = collector.handle(check(object_id, "first-check"))
    later = pipeline.collector(clock=lambda: collector.clock() + timedelta(seconds=61))
    after = later.handle(check(object_id, "first-check"))
    again = later.handle(check(object_id, "poll"))

    # Then exactly one event went out, no output was rewritten, and the row records the publication
    assert (inside, after, again) == ("publish-in-progress", "published-pending", "already-terminal")
    assert [e["detail"]["status"] for e in pipeline.stack.events()] == ["COMPLETED"]
    assert writes.counts == dict.fromkeys(WRITES, 0)
    row = pipeline.row(object_id)
    assert row["event_published"] is True
    assert row["event_id"]


def test_webhook_check_on_an_unfinished_job_does_not_fork_the_poll_chain(pipeline: Pipeline) -> None:
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("early-hint.wav")

    outcome = pipeline.collector().handle(check(object_id, "webhook"))

    assert outcome == "not-ready"
    assert pipeline.stack.sent.calls == []
    assert pipeline.row(object_id)["status"] == "SUBMITTED"


def test_job_left_collecting_by_a_dead_worker_is_recorded_expired_when_its_result_is_gone(
    pipeline: Pipeline,
) -> None:
    # Given a worker that claimed the job for collecting and died without handing it back
    object_id = pipeline.drop("orphan.wav")
    died_at = datetime.now(UTC)
    assert pipeline.collector().jobs.claim_collect(object_id, "dead-worker", died_at, 900)
    pipeline.emulator.state.set_timings(result_retention_seconds=0)

    # When its check is redelivered after the lease ran out, and the result has expired meanwhile
    later = pipeline.collector(clock=lambda: died_at + timedelta(seconds=901))
    outcome = later.handle(check(object_id, "first-check"))

    # Then the job ends EXPIRED with one event, instead of staying COLLECTING with nothing left to move it
    assert outcome == "EXPIRED"
    row = pipeline.row(object_id)
    assert row["status"] == "EXPIRED"
    assert "lease_owner" not in row
    assert [e["detail"]["status"] for e in pipeline.stack.events()] == ["EXPIRED"]


def test_terminal_write_without_a_lease_never_takes_a_live_collection(pipeline: Pipeline) -> None:
    # Given a worker collecting under a live lease
    object_id = pipeline.drop("busy.wav")
    now = datetime.now(UTC)
    jobs = pipeline.collector().jobs
    assert jobs.claim_collect(object_id, "live-worker", now, 900)

    # When another path tries to end the job without holding the lease
    finished = jobs.finish(object_id, Ending(Status.EXPIRED, "x"), now, owner=None)

    # Then nothing changes: the live worker still owns the row
    assert finished is None
    assert (pipeline.row(object_id)["status"], pipeline.row(object_id)["lease_owner"]) == (
        "COLLECTING",
        "live-worker",
    )
