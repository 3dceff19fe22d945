"""The one place the Powertools Logger, Metrics and Tracer are created; everything imports them from here."""

import logging
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()

# An invocation with nothing to count (an s3:TestEvent skipped, a job re-queued for a later check) is
# normal here; Powertools would print a UserWarning for each one into the function's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# The Tracer logs every exception leaving a captured method at ERROR with its whole traceback, before the
# pipeline's own handling has decided what it is; a transient AudioLasso failure would then print a traceback
# per retry. Each failure is logged where it is handled (lassodrop.ingest.service, lassodrop.collect.service),
# and the X-Ray subsegment still records the exception.
logging.getLogger("aws_lambda_powertools.tracing.tracer").setLevel(logging.CRITICAL)
