"""The growing schedule's first check: the status stream, followed for a bounded time (no webhooks)."""

from lassodrop.collect.backoff import ScheduleKind
from lassodrop.messages import CheckMessage, CheckReason
from tests.collect.conftest import Pipeline


def _reads(pipeline: Pipeline, route: str) -> int:
    return sum(1 for record in pipeline.emulator.state.requests if record.route == route)


def test_a_job_ending_within_the_watch_is_collected_at_once_by_the_next_link(pipeline: Pipeline) -> None:
    # Given a job that ends a moment after its first check opens the stream
    pipeline.emulator.state.set_timings(queue_seconds=0.1, run_seconds=0.3)
    object_id = pipeline.drop("short.wav")
    collector = pipeline.collector(schedule_kind=ScheduleKind.GROWING, status_watch_seconds=30)

    # When the first check is handled, then the link it queues
    watched = collector.handle(CheckMessage(object_id, None, CheckReason.FIRST_CHECK, link=0))
    sent = CheckMessage.from_body(pipeline.stack.sent.calls[-1]["MessageBody"])
    collected = collector.handle(sent)

    # Then the watch saw the end and handed the copy to a fresh invocation, queued without delay
    assert watched == "completed-while-watched"
    assert (sent.link, pipeline.stack.sent.delays) == (1, [0])
    assert collected == "COMPLETED"
    assert pipeline.row(object_id)["status"] == "COMPLETED"
    # One stream (reopened once after IN_QUEUE -> IN_PROGRESS at most) and one plain read to collect
    assert _reads(pipeline, "stream") <= 2
    assert _reads(pipeline, "status") == 1


def test_a_job_outliving_the_watch_is_polled_on_at_a_share_of_its_age(pipeline: Pipeline) -> None:
    # Given a job that stays queued for an hour, and a watch of one second
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("long.wav")
    collector = pipeline.collector(schedule_kind=ScheduleKind.GROWING, status_watch_seconds=1)

    # When its first check is handled
    outcome = collector.handle(CheckMessage(object_id, None, CheckReason.FIRST_CHECK, link=0))

    # Then the watch ended on time with the job unfinished, and the next read waits the floor of 5 s
    assert outcome == "re-enqueued"
    assert pipeline.stack.sent.delays == [5]
    assert (_reads(pipeline, "stream"), _reads(pipeline, "status")) == (1, 0)
    assert pipeline.row(object_id)["checks"] == 1


def test_a_check_past_the_watch_age_reads_the_status_once(pipeline: Pipeline) -> None:
    # Given a job older than the watch
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("older.wav")
    collector = pipeline.collector(schedule_kind=ScheduleKind.GROWING, status_watch_seconds=0)

    outcome = collector.handle(CheckMessage(object_id, None, CheckReason.FIRST_CHECK, link=0))

    assert outcome == "re-enqueued"
    assert (_reads(pipeline, "stream"), _reads(pipeline, "status")) == (0, 1)


def test_a_webhook_check_never_holds_the_stream(pipeline: Pipeline) -> None:
    # Given a running job young enough to be watched
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("hooked.wav")
    collector = pipeline.collector(schedule_kind=ScheduleKind.GROWING, status_watch_seconds=30)

    outcome = collector.handle(CheckMessage(object_id, None, CheckReason.WEBHOOK))

    # Then it was one plain read, and it started no chain of its own
    assert outcome == "not-ready"
    assert (_reads(pipeline, "stream"), _reads(pipeline, "status")) == (0, 1)
    assert pipeline.stack.sent.calls == []
