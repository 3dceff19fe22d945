"""The one place the Powertools Logger, Metrics and Tracer are created; everything imports them from here.

It also keeps signed URLs out of traces (see TRACED_MODULES) and the HTTP libraries' own records out of the
function's log: urllib3 logs every request line with its whole URL (a signed URL's query is its signature)
and botocore logs request headers (Authorization, X-Amz-Security-Token) at DEBUG. They stay at WARNING
whatever LOG_LEVEL or the Lambda log level is, and urllib3's warnings, some of which name the URL too, have
their query strings removed."""

import logging
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

from lassodrop.audiolasso.redact import redact_text

# Only AWS calls are patched for X-Ray. The SDK's requests patch records a failed call's exception as it is,
# and requests' exception text holds the whole URL: a signed upload or output URL, signature and all, would
# be stored in the trace. (Its httplib patch sees nothing of urllib3 2, so it would add no subsegments.)
TRACED_MODULES = ("botocore",)

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=TRACED_MODULES)

# An invocation with nothing to count (an s3:TestEvent skipped, a job re-queued for a later check) is
# normal here; Powertools would print a UserWarning for each one into the function's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

_WIRE_LOGGERS = ("urllib3", "botocore", "boto3", "s3transfer")
# The urllib3 modules that put a request's URL into a record (a logger's filter sees only its own records).
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry")


class RedactQueries(logging.Filter):
    """Rewrites a record's message with every query string and signed-URL parameter removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


def quiet_wire_loggers() -> None:
    """Keep the HTTP libraries' records at WARNING and above, and urllib3's without queries."""
    for name in _WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _URL_LOGGERS:
        url_logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactQueries) for existing in url_logger.filters):
            url_logger.addFilter(RedactQueries())


quiet_wire_loggers()
# The Tracer logs every exception leaving a captured method at ERROR with its whole traceback, before the
# pipeline's own handling has decided what it is; a transient AudioLasso failure would then print a traceback
# per retry. Each failure is logged where it is handled (lassodrop.ingest.service, lassodrop.collect.service),
# and the X-Ray subsegment still records the exception.
logging.getLogger("aws_lambda_powertools.tracing.tracer").setLevel(logging.CRITICAL)
