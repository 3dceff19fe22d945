"""Collect: one check message per record; tracks each job to its end and lands the stems in S3."""

import os
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lassodrop.collect.config import CollectConfig
from lassodrop.collect.service import Collector
from lassodrop.events import EventPublisher
from lassodrop.jobs import JobStore
from lassodrop.jobs.breaker import BreakerStore
from lassodrop.messages import CheckMessage, CheckQueue
from lassodrop.observability import logger, metrics, tracer
from lassodrop.redelivery import BackoffBatchProcessor
from lassodrop.runtime import AwsClients, ClientFactory
from lassodrop.waiting import Pauses


@cache
def collector() -> Collector:
    """Built on the first invocation (not at import) and reused while the execution environment lives."""
    config = CollectConfig.from_env(os.environ)
    aws = AwsClients()
    table = aws.table(config.jobs_table)
    api = ClientFactory(config.api)
    publisher = EventPublisher(aws.events, config.event_bus_name)
    return Collector(
        config=config,
        jobs=JobStore(table),
        api_client=api,
        s3=aws.s3,
        checks=CheckQueue(aws.sqs, config.check_queue_url),
        publisher=publisher,
        pauses=Pauses(BreakerStore(table), publisher, config.park_delay_seconds, time.time),
        refresh_key=api.refresh,
    )


# A transient failure is retried after a growing delay (lassodrop.redelivery), through collect's SQS client.
processor = BackoffBatchProcessor(
    lambda: collector().checks.sqs, delay=lambda receives: collector().config.retry.delay(receives)
)


def record_handler(record: SQSRecord) -> str:
    message = CheckMessage.from_body(record.body)
    # Every line of this record names its job from the start, a failing one included.
    logger.remove_keys(["object_key"])
    logger.append_keys(object_id=message.object_id, request_id=message.request_id)
    return collector().handle(message)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
