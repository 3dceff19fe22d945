"""The one place the Powertools Logger, Metrics and Tracer are created; everything imports them from here."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()

# An invocation with nothing to count (an s3:TestEvent skipped, a job re-queued for a later check) is
# normal here; Powertools would print a UserWarning for each one into the function's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
