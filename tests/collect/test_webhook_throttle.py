"""A flood of valid webhook calls for one job causes a bounded number of status reads.

The bound: at most one webhook-caused status read per job per WEBHOOK_CHECK_INTERVAL_SECONDS, so a flood
lasting T seconds makes at most floor(T / interval) + 1 of them, whatever its rate. The poll chain's reads
are not counted against it (and are unchanged by it).
"""

from datetime import UTC, datetime, timedelta

from lassodrop.messages import CheckMessage, CheckQueue
from lassodrop.webhook import WebhookReceiver
from tests.collect.conftest import Pipeline
from tests.fixtures.aws import drain
from tests.fixtures.events import function_url_event

INTERVAL = 60


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def status_reads(pipeline: Pipeline) -> int:
    return sum(1 for request in pipeline.emulator.state.requests if request.route == "status")


def flood(pipeline: Pipeline, clock: Clock, object_id: str, calls: int, rounds: int) -> list[str]:
    """`rounds` times: `calls` webhook calls, then collect takes every check they enqueued."""
    row = pipeline.row(object_id)
    query = {"id": row["webhook_id"], "token": row["webhook_token"]}
    receiver = WebhookReceiver(
        pipeline.store,
        CheckQueue(pipeline.stack.sqs, pipeline.stack.check_queue_url),
        check_interval_seconds=INTERVAL,
        clock=lambda: clock.now.timestamp(),
    )
    collector = pipeline.collector(clock=clock, webhook_check_interval_seconds=INTERVAL)
    replies: list[str] = []
    for _ in range(rounds):
        replies += [str(receiver.handle(function_url_event(query, {})).body["status"]) for _ in range(calls)]
        for message in drain(pipeline.stack.sqs, pipeline.stack.check_queue_url):
            collector.handle(CheckMessage.from_body(message["Body"]))
    return replies


def test_a_thousand_valid_calls_in_one_second_cause_one_status_read(pipeline: Pipeline) -> None:
    # Given a running job, and its valid webhook URL called 1,000 times within one second
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("flooded.wav")
    clock = Clock()
    before = status_reads(pipeline)
    sends = len(pipeline.stack.sent.calls)

    replies = flood(pipeline, clock, object_id, calls=100, rounds=10)

    # Then AudioLasso saw one status read; only the calls before collect took its slot enqueued a check
    assert status_reads(pipeline) - before == 1
    assert replies.count("accepted") == 100
    assert replies.count("throttled") == 900
    assert len(pipeline.stack.sent.calls) - sends == 100
    assert pipeline.row(object_id)["webhook_checked_at"] == int(clock.now.timestamp())


def test_the_next_interval_allows_one_more_status_read(pipeline: Pipeline) -> None:
    # Given a flooded job whose one webhook-caused read was made
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("still-flooded.wav")
    clock = Clock()
    flood(pipeline, clock, object_id, calls=20, rounds=2)
    before = status_reads(pipeline)

    # When the flood goes on just inside the interval, then just after it
    clock.now += timedelta(seconds=INTERVAL)
    inside = flood(pipeline, clock, object_id, calls=20, rounds=2)
    clock.now += timedelta(seconds=1)
    after = flood(pipeline, clock, object_id, calls=20, rounds=2)

    # Then only the call after the interval reached AudioLasso, once
    assert set(inside) == {"throttled"}
    assert after.count("accepted") == 20
    assert status_reads(pipeline) - before == 1


def test_collect_drops_a_webhook_check_taken_within_the_interval_without_reading(pipeline: Pipeline) -> None:
    # Given two webhook checks queued before either was handled (the receiver saw no slot taken for either)
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("raced.wav")
    collector = pipeline.collector(webhook_check_interval_seconds=INTERVAL)
    before = status_reads(pipeline)

    outcomes = [collector.handle(CheckMessage(object_id, None, "webhook")) for _ in range(2)]
    poll = collector.handle(CheckMessage(object_id, None, "poll"))

    # Then the second is dropped without a status read, and the poll chain is not throttled
    assert outcomes == ["not-ready", "throttled"]
    assert poll == "re-enqueued"
    assert status_reads(pipeline) - before == 2
