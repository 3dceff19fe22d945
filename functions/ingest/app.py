"""Ingest: objects created in S3 (via the IngestQueue, or invoked directly) become AudioLasso jobs."""

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from lassodrop.ingest.config import IngestConfig
from lassodrop.ingest.events import is_sqs_batch
from lassodrop.ingest.service import IngestService, build_service
from lassodrop.observability import logger, metrics, tracer
from lassodrop.redelivery import BackoffBatchProcessor
from lassodrop.runtime import AwsClients


@cache
def get_service() -> IngestService:
    """Built on the first invocation (not at import) and reused while the execution environment lives."""
    return build_service(IngestConfig.from_env(os.environ), AwsClients())


# A transient failure is retried after a growing delay (lassodrop.redelivery), via the service's SQS client.
processor = BackoffBatchProcessor(
    lambda: get_service().checks.sqs, delay=lambda receives: get_service().config.retry.delay(receives)
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, object]:
    service = get_service()
    if is_sqs_batch(event):
        return process_partial_response(
            event=event, record_handler=service.handle_message, processor=processor, context=context
        )
    outcomes = service.handle_direct(event)
    return {"outcomes": [str(outcome) for outcome in outcomes]}
