"""One polling chain per job, whatever arrives twice: duplicate links are dropped at once, without a read."""

from typing import Any

import pytest

from lassodrop.audiolasso import ConnectionFailedError
from lassodrop.messages import CheckMessage, CheckReason
from tests.collect.conftest import Pipeline


def _count_status_reads(pipeline: Pipeline) -> list[str]:
    reads: list[str] = []
    real_status = pipeline.client.status

    def counted(request_id: str, **kwargs: Any) -> Any:
        reads.append(request_id)
        return real_status(request_id, **kwargs)

    pipeline.client.status = counted  # type: ignore[method-assign]
    return reads


def test_three_first_checks_for_one_job_make_one_chain_of_status_reads(pipeline: Pipeline) -> None:
    # Given a job still running, and three copies of its first check (three deliveries of its S3 event
    # around the submit can each queue one)
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("thrice.wav")
    reads = _count_status_reads(pipeline)
    collector = pipeline.collector()
    first = CheckMessage(object_id, None, CheckReason.FIRST_CHECK, link=0)

    # When all three and then every message the chain queues are processed, four links deep
    outcomes = [collector.handle(first) for _ in range(3)]
    for _ in range(3):
        sent = CheckMessage.from_body(pipeline.stack.sent.calls[-1]["MessageBody"])
        outcomes += [collector.handle(sent), collector.handle(sent)]  # each link delivered twice too

    # Then each link was read once and queued the next once; every second copy was dropped unread
    assert outcomes == ["re-enqueued", "duplicate", "duplicate"] + ["re-enqueued", "duplicate"] * 3
    assert len(reads) == 4
    assert [body["link"] for body in pipeline.stack.sent.bodies] == [1, 2, 3, 4]
    assert pipeline.row(object_id)["checks"] == 4


def test_a_link_whose_read_failed_is_taken_again_by_its_redelivery(pipeline: Pipeline) -> None:
    # Given the status read of the first link failing retryably once
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("flaky.wav")
    real_status = pipeline.client.status
    calls: list[str] = []

    def unreachable_once(request_id: str, **kwargs: Any) -> Any:
        calls.append(request_id)
        if len(calls) == 1:
            raise ConnectionFailedError("connection refused", request_sent=False)
        return real_status(request_id, **kwargs)

    pipeline.client.status = unreachable_once  # type: ignore[method-assign]
    collector = pipeline.collector()
    first = CheckMessage(object_id, None, CheckReason.FIRST_CHECK, link=0)

    # When it is delivered, fails, and is redelivered at once
    with pytest.raises(ConnectionFailedError):
        collector.handle(first)
    again = collector.handle(first)

    # Then the redelivery was not mistaken for a duplicate: the chain goes on
    assert again == "re-enqueued"
    assert pipeline.row(object_id)["checks"] == 1
