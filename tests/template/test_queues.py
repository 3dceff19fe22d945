from collections.abc import Callable

import pytest

from lassodrop.redelivery import retry_delay
from lassodrop_local.stack import StackInfo

BuildStack = Callable[..., StackInfo]


@pytest.fixture
def stack(build_stack: BuildStack) -> StackInfo:
    return build_stack({"EnableWebhooks": "true"})


def test_each_queue_hides_messages_for_at_least_six_times_its_consumers_timeout(stack: StackInfo) -> None:
    for function in stack.functions.values():
        for source in function.event_sources:
            queue = stack.queues[source.queue_logical_id]
            assert queue.visibility_timeout >= 6 * function.timeout, (function.logical_id, queue.logical_id)


def test_consumed_queues_redrive_to_their_dead_letter_queue(stack: StackInfo) -> None:
    expected = {"IngestQueue": "IngestDLQ", "CheckQueue": "CheckDLQ"}
    for queue_id, dlq_id in expected.items():
        queue = stack.queues[queue_id]
        assert queue.dead_letter_queue_arn == stack.queues[dlq_id].arn
        assert queue.max_receive_count == 10


@pytest.mark.parametrize("queue_id", ["IngestQueue", "CheckQueue"])
def test_transient_failures_are_retried_for_over_an_hour_before_the_dead_letter_queue(
    stack: StackInfo, queue_id: str
) -> None:
    # Each failed receive waits its backoff delay; the receive after the last allowed one goes to the DLQ.
    queue = stack.queues[queue_id]
    assert queue.max_receive_count is not None
    window = sum(retry_delay(count) for count in range(1, queue.max_receive_count + 1))

    assert 3600 <= window == 5430
    # And a message that keeps failing for any other reason still reaches the DLQ long before it expires.
    assert queue.max_receive_count * queue.visibility_timeout < queue.message_retention_period


def test_sqs_consumers_take_one_record_and_report_item_failures(stack: StackInfo) -> None:
    consumers = {
        function.logical_id: [source.queue_logical_id for source in function.event_sources]
        for function in stack.functions.values()
    }
    assert consumers == {
        "IngestFunction": ["IngestQueue"],
        "CollectFunction": ["CheckQueue"],
        "WebhookFunction": [],
    }
    for function in stack.functions.values():
        for source in function.event_sources:
            assert source.batch_size == 1
            assert source.report_batch_item_failures


def test_upload_concurrency_follows_the_parameter(build_stack: BuildStack) -> None:
    stack = build_stack({"MaxConcurrentUploads": "7"})

    (source,) = stack.functions["IngestFunction"].event_sources
    assert source.maximum_concurrency == 7
    assert stack.functions["CollectFunction"].event_sources[0].maximum_concurrency is None


def test_function_sizes_are_as_declared(stack: StackInfo) -> None:
    sizes = {name: (function.timeout, function.memory_size) for name, function in stack.functions.items()}

    assert sizes["IngestFunction"] == (900, 512)
    assert sizes["CollectFunction"] == (300, 512)
