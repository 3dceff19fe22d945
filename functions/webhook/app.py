"""Webhook receiver behind a Lambda Function URL: authenticate the job's token, enqueue an immediate check."""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lassodrop.jobs import JobStore
from lassodrop.messages import CheckQueue
from lassodrop.observability import logger, tracer
from lassodrop.runtime import AwsClients
from lassodrop.webhook import WebhookConfig, WebhookReceiver


@cache
def receiver() -> WebhookReceiver:
    config = WebhookConfig.from_env(os.environ)
    aws = AwsClients()
    return WebhookReceiver(
        JobStore(aws.table(config.jobs_table)),
        CheckQueue(aws.sqs, config.check_queue_url),
        check_interval_seconds=config.check_interval_seconds,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receiver().handle(event).to_function_url()
