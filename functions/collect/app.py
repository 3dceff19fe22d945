"""Collect: one check message per record; tracks each job to its end and lands the stems in S3."""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lassodrop.collect.config import CollectConfig
from lassodrop.collect.service import Collector
from lassodrop.events import EventPublisher
from lassodrop.jobs import JobStore
from lassodrop.messages import CheckMessage, CheckQueue
from lassodrop.observability import logger, metrics, tracer
from lassodrop.runtime import AwsClients, ClientFactory

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def collector() -> Collector:
    """Built on the first invocation (not at import) and reused while the execution environment lives."""
    config = CollectConfig.from_env(os.environ)
    aws = AwsClients()
    return Collector(
        config=config,
        jobs=JobStore(aws.table(config.jobs_table)),
        api_client=ClientFactory(config.api),
        s3=aws.s3,
        checks=CheckQueue(aws.sqs, config.check_queue_url),
        publisher=EventPublisher(aws.events, config.event_bus_name),
    )


def record_handler(record: SQSRecord) -> str:
    logger.remove_keys(["object_key", "request_id"])
    return collector().handle(CheckMessage.from_body(record.body))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
