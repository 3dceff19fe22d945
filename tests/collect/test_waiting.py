"""A refused key or scope while jobs are in flight: their checks wait and park, one probe asks, all go on."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lassodrop.collect.service import OutputUrlRefusedError
from lassodrop.jobs import Status, Step, Waiting, WaitingFor
from lassodrop.messages import CheckMessage
from lassodrop_local.emulator.state import ALL_SCOPES
from tests.collect.conftest import Pipeline


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def check(object_id: str, reason: str = "poll") -> CheckMessage:
    return CheckMessage(object_id, None, reason)


def events_of(pipeline: Pipeline, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in pipeline.stack.events() if e["detail-type"] == detail_type]


def parked(pipeline: Pipeline) -> list[tuple[str, int]]:
    sent = pipeline.stack.sent
    return [(body["object_id"], delay) for body, delay in zip(sent.bodies, sent.delays, strict=True)]


def calls(pipeline: Pipeline) -> int:
    return len(pipeline.emulator.state.requests)


def _revoke(pipeline: Pipeline, key: str) -> None:
    pipeline.emulator.state.revoke_key(key)


def _restore(pipeline: Pipeline, key: str) -> None:
    pipeline.emulator.state.restore_key(key)


def _narrow(pipeline: Pipeline, key: str) -> None:
    pipeline.emulator.state.set_scopes(key, ALL_SCOPES - {"audio:separate"})


def _widen(pipeline: Pipeline, key: str) -> None:
    pipeline.emulator.state.set_scopes(key, ALL_SCOPES)


@pytest.mark.parametrize(
    ("break_account", "fix_account", "waiting_for"),
    [(_revoke, _restore, WaitingFor.API_KEY), (_narrow, _widen, WaitingFor.PERMISSION)],
    ids=["key revoked", "scope missing"],
)
def test_jobs_in_flight_wait_while_the_account_is_refused_and_all_complete_once_it_is_fixed(
    pipeline: Pipeline,
    api_key: str,
    break_account: Callable[[Pipeline, str], None],
    fix_account: Callable[[Pipeline, str], None],
    waiting_for: WaitingFor,
) -> None:
    # Given three submitted jobs, then an account AudioLasso refuses
    jobs = [pipeline.drop(f"flight-{n}.wav") for n in range(3)]
    break_account(pipeline, api_key)
    clock = Clock()
    collector = pipeline.collector(clock=clock)
    before = calls(pipeline)

    # When their checks arrive
    outcomes = [collector.handle(check(job)) for job in jobs]

    # Then each waits (nothing raised for a DLQ, nothing failed); only the first asked AudioLasso
    assert outcomes == ["waiting"] * 3
    assert calls(pipeline) - before == 1
    for job in jobs:
        row = pipeline.store.get(job)
        assert row is not None
        assert (row.status, row.waiting_for, row.waiting_step) == (Status.WAITING, waiting_for, Step.COLLECT)
    # And each check was parked on the check queue for the park delay
    assert parked(pipeline)[-3:] == [(job, 60) for job in jobs]
    [waiting] = events_of(pipeline, "Pipeline Waiting")
    assert waiting["waiting_for"] == str(waiting_for)

    # When the parked checks come back within the probe lease, then one lease later
    held = [collector.handle(check(job)) for job in jobs]
    clock.advance(61)
    probed = [collector.handle(check(job)) for job in jobs]

    # Then only the one probe reached AudioLasso
    assert held == probed == ["waiting"] * 3
    assert calls(pipeline) - before == 2

    # When the account is fixed and the parked checks come back after the lease
    fix_account(pipeline, api_key)
    clock.advance(61)
    finished = [collector.handle(check(job)) for job in jobs]

    # Then every job completes, and the pipeline said it waited and resumed once each
    assert finished == ["COMPLETED"] * 3
    assert len(events_of(pipeline, "Pipeline Waiting")) == 1
    [resumed] = events_of(pipeline, "Pipeline Resumed")
    assert resumed["files_resumed"] == 3
    assert resumed["waited_seconds"] >= 122
    assert len(events_of(pipeline, "Separation Completed")) == 3


def test_a_webhook_for_a_waiting_job_leaves_it_to_its_parked_poll(pipeline: Pipeline, api_key: str) -> None:
    job = pipeline.drop("hooked.wav")
    pipeline.emulator.state.revoke_key(api_key)
    collector = pipeline.collector()
    collector.handle(check(job))
    sent = len(pipeline.stack.sent.calls)

    pipeline.emulator.state.restore_key(api_key)
    outcome = collector.handle(check(job, "webhook"))

    assert outcome == "waiting"
    assert len(pipeline.stack.sent.calls) == sent
    row = pipeline.store.get(job)
    assert row is not None
    assert row.status is Status.WAITING


def test_credits_running_out_do_not_hold_collect(pipeline: Pipeline) -> None:
    # Given an account out of credits, met by ingest (collect's reads spend none)
    job = pipeline.drop("paid.wav")
    pipeline.emulator.state.set_credits(0)
    collector = pipeline.collector()
    collector.pauses.started_waiting(
        Waiting(WaitingFor.CREDITS, "The account has no credits left."), Step.UPLOAD
    )
    assert collector.pauses.breaker.read().holds(Step.UPLOAD)

    # When the already paid job's check arrives
    outcome = collector.handle(check(job))

    # Then it is collected as usual
    assert outcome == "COMPLETED"


def test_a_refused_output_url_is_retried_not_taken_for_account_trouble(pipeline: Pipeline) -> None:
    # Given a finished job whose signed output URL answers 403 once (the URL carries no key)
    job = pipeline.drop("signed.wav")
    pipeline.emulator.state.fail_next("output", 403)
    collector = pipeline.collector()

    # When its check arrives
    with pytest.raises(OutputUrlRefusedError):
        collector.handle(check(job))

    # Then the message is retried as before: the row is handed back, nothing waits, the breaker stays shut
    row = pipeline.store.get(job)
    assert row is not None
    assert row.status is Status.SUBMITTED
    assert not collector.pauses.breaker.read().holds(Step.COLLECT)
    assert collector.handle(check(job)) == "COMPLETED"
