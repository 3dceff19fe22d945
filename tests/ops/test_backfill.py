"""`lassodrop backfill`: objects in the bucket before any notification are submitted, each exactly once."""

from collections import Counter
from typing import Any

import pytest

from lassodrop.jobs import Status
from lassodrop_ops import backfill
from lassodrop_ops.ratelimit import TokenBucket
from tests.fixtures.audio import riff_blob
from tests.ops.conftest import Pipeline

# Objects already in the bucket: the backfill is stopped half-way, some are queued twice, each ingested once.
OBJECTS = 200
HALF = OBJECTS // 2
TAKEN = 24  # of the first run's messages, the ones ingest processed before the second run


def _put_without_notifications(pipeline: Pipeline, count: int) -> list[str]:
    keys = [f"archive/{i:03}.wav" for i in range(count)]
    for i, key in enumerate(keys):
        pipeline.drop(key, riff_blob(1024 + i))  # distinct bytes: distinct ETags
    pipeline.discard_notifications()
    return keys


def test_an_interrupted_backfill_run_again_submits_every_object_exactly_once(pipeline: Pipeline) -> None:
    # Given objects nobody was told about
    keys = _put_without_notifications(pipeline, OBJECTS)
    uri = f"s3://{pipeline.bucket}/archive/"

    # When a backfill stops half-way, ingest takes only part of what it queued, and it is run again
    first = pipeline.cli("backfill", uri, "--rate", "10000/s", "--limit", str(HALF), "--local", "--json")
    assert pipeline.ingest(at_most=TAKEN) == TAKEN
    second = pipeline.cli("backfill", uri, "--rate", "10000/s", "--local", "--json")
    pipeline.ingest()

    # Then the first run queued half, the second skipped those with rows and queued all the others (some of
    # them for the second time), and AudioLasso got one submission per object
    assert (first.code, first.json["enqueued"], first.json["left"]) == (0, HALF, OBJECTS - HALF)
    assert (second.json["skipped"], second.json["enqueued"]) == (TAKEN, OBJECTS - TAKEN)
    assert second.json["left"] == 0
    assert f"{HALF}/{HALF}" in first.err  # the progress bar's count
    assert len(pipeline.emulator.state.submissions) == OBJECTS
    rows = pipeline.rows()
    assert sorted(row.key for row in rows) == keys
    assert Counter(row.status for row in rows) == {Status.SUBMITTED: OBJECTS}
    assert {row.attempts for row in rows} == {1}
    # And a third run finds nothing left to do
    third = pipeline.cli("backfill", uri, "--local", "--json")
    assert (third.json["skipped"], third.json["enqueued"]) == (OBJECTS, 0)


def test_a_backfill_stopped_by_ctrl_c_reports_its_counts_and_the_next_run_goes_on(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a backfill that the operator interrupts while it builds its fourth message
    _put_without_notifications(pipeline, 6)
    built: list[str] = []
    real = backfill.messages.object_created

    def interrupt_at_the_fourth(*args: Any, **kwargs: Any) -> str:
        if len(built) == 3:
            raise KeyboardInterrupt
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(backfill.messages, "object_created", interrupt_at_the_fourth)
    uri = f"s3://{pipeline.bucket}/archive/"
    stopped = pipeline.cli("backfill", uri, "--rate", "1000", "--local", "--json")
    monkeypatch.setattr(backfill.messages, "object_created", real)
    pipeline.ingest()

    # When it is run again
    again = pipeline.cli("backfill", uri, "--rate", "1000", "--local", "--json")
    pipeline.ingest()

    # Then the first said how far it got and exited 1, and the second sent the rest: each submitted once
    assert (stopped.code, stopped.json["enqueued"], stopped.json["left"]) == (1, 3, 3)
    assert "run the same command again" in stopped.err
    assert (again.code, again.json["skipped"], again.json["enqueued"]) == (0, 3, 3)
    assert len(pipeline.emulator.state.submissions) == 6


def test_backfill_dry_run_counts_and_sends_nothing(pipeline: Pipeline) -> None:
    _put_without_notifications(pipeline, 5)
    pipeline.drop("elsewhere/x.wav")
    pipeline.discard_notifications()

    result = pipeline.cli("backfill", f"s3://{pipeline.bucket}/archive/", "--dry-run", "--local", "--json")
    table = pipeline.cli("backfill", f"s3://{pipeline.bucket}/archive/", "--dry-run", "--local")

    assert result.code == 0
    assert (result.json["versions"], result.json["would_enqueue"], result.json["enqueued"]) == (5, 5, 0)
    assert "would enqueue" in table.out
    assert pipeline.ingest() == 0


def test_backfill_with_a_bad_rate_is_a_usage_error(pipeline: Pipeline) -> None:
    with pytest.raises(SystemExit) as exit_:
        pipeline.cli("backfill", f"s3://{pipeline.bucket}", "--rate", "fast", "--local")
    assert exit_.value.code == 2


def test_the_token_bucket_holds_the_rate_after_its_burst() -> None:
    # Given a bucket of 4/s with a burst of 2 and a clock that only moves when it sleeps
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(4, burst=2, clock=lambda: now[0], sleep=sleep)

    # When 10 tokens are taken
    for _ in range(10):
        bucket.take()

    # Then the first 2 came at once and the other 8 a quarter-second apart
    assert slept == [pytest.approx(0.25)] * 8
    assert now[0] == pytest.approx(2.0)
