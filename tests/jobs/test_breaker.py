"""The AudioLasso breaker item: one opener, one probe per lease, one closer, and the job rows left alone."""

from typing import Any

import pytest

from lassodrop.jobs import Step, Waiting, WaitingFor
from lassodrop.jobs.breaker import BREAKER_ID, BreakerState, BreakerStore
from lassodrop.jobs.expression import UpdateExpression
from tests.jobs.test_jobs import Clock

NO_KEY = Waiting(WaitingFor.API_KEY, "Missing or invalid API key.")
NO_CREDITS = Waiting(WaitingFor.CREDITS, "The account has no credits left.")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(jobs_table: Any, clock: Clock) -> BreakerStore:
    return BreakerStore(jobs_table, clock=clock)


def test_a_breaker_never_written_is_closed_and_holds_nobody(breaker: BreakerStore) -> None:
    state = breaker.read()

    assert state.state is BreakerState.CLOSED
    assert not state.holds(Step.UPLOAD)
    assert not state.holds(Step.COLLECT)


def test_only_the_first_of_two_openers_opens_and_the_second_counts_its_file(breaker: BreakerStore) -> None:
    first = breaker.open(NO_KEY, Step.UPLOAD, probe_seconds=60)
    second = breaker.open(NO_KEY, Step.COLLECT, probe_seconds=60)
    breaker.count_waiting()

    assert first is not None
    assert second is None
    state = breaker.read()
    assert (state.state, state.waiting_for, state.step, state.files_waiting) == (
        BreakerState.OPEN,
        WaitingFor.API_KEY,
        Step.UPLOAD,
        2,
    )


def test_one_probe_per_lease_while_open(breaker: BreakerStore, clock: Clock) -> None:
    breaker.open(NO_KEY, Step.UPLOAD, probe_seconds=60)

    at_once = breaker.take_probe(60)
    clock.now += 61
    after_the_lease = breaker.take_probe(60)
    right_after = breaker.take_probe(60)

    assert (at_once, after_the_lease, right_after) == (False, True, False)


def test_only_one_closer_and_it_learns_how_long_and_how_many_waited(
    breaker: BreakerStore, clock: Clock
) -> None:
    breaker.open(NO_CREDITS, Step.UPLOAD, probe_seconds=60)
    breaker.count_waiting()
    clock.now += 300

    closed = breaker.close()
    again = breaker.close()

    assert closed is not None
    assert (closed.state, closed.files_waiting, closed.opened_at) == (BreakerState.OPEN, 2, 1_790_000_000)
    assert again is None
    assert breaker.read().state is BreakerState.CLOSED
    assert not breaker.take_probe(60)
    breaker.count_waiting()
    assert breaker.read().files_waiting == 2


def test_a_closed_breaker_opens_again_with_a_fresh_count(breaker: BreakerStore) -> None:
    breaker.open(NO_KEY, Step.UPLOAD, probe_seconds=60)
    breaker.count_waiting()
    breaker.close()

    reopened = breaker.open(NO_CREDITS, Step.UPLOAD, probe_seconds=60)

    assert reopened is not None
    assert (reopened.waiting_for, reopened.files_waiting) == (WaitingFor.CREDITS, 1)


@pytest.mark.parametrize(
    ("waiting", "opened_by", "holds_upload", "holds_collect"),
    [
        (NO_KEY, Step.UPLOAD, True, True),
        (NO_KEY, Step.COLLECT, True, True),
        (NO_CREDITS, Step.UPLOAD, True, False),
        (Waiting(WaitingFor.PERMISSION, "lacks a scope"), Step.COLLECT, False, True),
    ],
)
def test_a_refused_key_holds_both_sides_credits_and_scopes_only_the_side_that_met_them(
    breaker: BreakerStore, waiting: Waiting, opened_by: Step, holds_upload: bool, holds_collect: bool
) -> None:
    breaker.open(waiting, opened_by, probe_seconds=60)

    state = breaker.read()

    assert (state.holds(Step.UPLOAD), state.holds(Step.COLLECT)) == (holds_upload, holds_collect)


def test_the_breaker_item_is_no_job_row_and_rows_cannot_take_its_attributes(
    breaker: BreakerStore, jobs_table: Any
) -> None:
    breaker.open(NO_KEY, Step.UPLOAD, probe_seconds=60)
    item = jobs_table.get_item(Key={"object_id": BREAKER_ID})["Item"]

    assert item["kind"] == "breaker"
    assert "source_uri" not in item
    assert "request_id" not in item
    with pytest.raises(ValueError, match="probe_until"):
        UpdateExpression().set_all({"probe_until": 1})
