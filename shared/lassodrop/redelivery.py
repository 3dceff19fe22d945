"""When a message that failed for a transient reason comes back: after a growing delay, not the queue timeout.

The queues' visibility timeouts are sized for Lambda (6 x the function timeout: 90 min for ingest, 30 min for
collect), so a message left to them retries a one-minute AudioLasso outage an hour and a half later. A record
that failed transiently (network, DNS, refused, timeout, 5xx, 429: `classify` says RETRY or RETRY_LATER)
instead gets its own visibility set to `retry_delay(ApproximateReceiveCount)` before it is reported in
batchItemFailures. Any other failure keeps the queue's timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from lassodrop.audiolasso.errors import (
    AudioLassoError,
    ConnectionFailedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    UpstreamError,
    Verdict,
    classify,
)
from lassodrop.observability import logger
from lassodrop.runtime import read_int

RETRY_FIRST_DELAY_SECONDS = 30
# A transient outage is retried at least every 15 minutes, however long it lasts.
RETRY_MAX_DELAY_SECONDS = 900
# ChangeMessageVisibility refuses more than 12 hours.
SQS_MAX_VISIBILITY_SECONDS = 43_200
_CAUSE_CHARS = 160

# Words in the text of a network error's chain (requests, urllib3, socket) -> the cause in a few words.
_NETWORK_CAUSES = (
    ("connection refused", "connection refused"),
    ("name or service not known", "DNS lookup failed"),
    ("nodename nor servname", "DNS lookup failed"),
    ("temporary failure in name resolution", "DNS lookup failed"),
    ("failed to resolve", "DNS lookup failed"),
    ("timed out", "timed out"),
    ("timeout", "timed out"),
    ("connection reset", "connection reset"),
    ("connection aborted", "connection dropped"),
    ("remote end closed", "connection dropped"),
)


def retry_delay(
    receive_count: int, *, first: int = RETRY_FIRST_DELAY_SECONDS, cap: int = RETRY_MAX_DELAY_SECONDS
) -> int:
    """Seconds until a transiently failed message is received again: `first` after its first receive.

    Doubling per receive, capped at `cap` and at SQS's maximum; `receive_count` is the record's
    ApproximateReceiveCount (1 on the first delivery).
    """
    doublings = min(max(receive_count, 1) - 1, 32)  # bounded, so a huge count builds no huge integer
    return min(first * 2**doublings, cap, SQS_MAX_VISIBILITY_SECONDS)


@dataclass(frozen=True)
class RetrySchedule:
    """The backoff of one function, from RETRY_FIRST_DELAY_SECONDS and RETRY_MAX_DELAY_SECONDS.

    The template sets the defaults; the local stack scales them down to seconds.
    """

    first: int = RETRY_FIRST_DELAY_SECONDS
    cap: int = RETRY_MAX_DELAY_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetrySchedule:
        first = read_int(
            env,
            "RETRY_FIRST_DELAY_SECONDS",
            default=RETRY_FIRST_DELAY_SECONDS,
            low=1,
            high=SQS_MAX_VISIBILITY_SECONDS,
        )
        cap = read_int(
            env,
            "RETRY_MAX_DELAY_SECONDS",
            default=RETRY_MAX_DELAY_SECONDS,
            low=first,
            high=SQS_MAX_VISIBILITY_SECONDS,
        )
        return cls(first, cap)

    def delay(self, receive_count: int) -> int:
        return retry_delay(receive_count, first=self.first, cap=self.cap)


@dataclass(frozen=True)
class Trouble:
    """A transient failure in a few words: `summary` is the log message, `cause` the detail."""

    summary: str
    cause: str

    def __str__(self) -> str:
        return f"{self.summary}: {self.cause}"


def transient_trouble(exc: BaseException | None) -> Trouble | None:
    """The transient AudioLasso failure behind `exc` (itself, or what it was raised from); None otherwise."""
    seen = 0
    while exc is not None and seen < 8:  # bounded: a cause chain is short, but never trust one to end
        if isinstance(exc, AudioLassoError):
            return _trouble(exc) if classify(exc) in (Verdict.RETRY, Verdict.RETRY_LATER) else None
        exc, seen = exc.__cause__, seen + 1
    return None


def _trouble(error: AudioLassoError) -> Trouble:
    if isinstance(error, ConnectionFailedError):
        return Trouble("AudioLasso unreachable", _network_cause(error))
    if isinstance(error, RateLimitedError):
        return Trouble("AudioLasso throttled", _short(str(error)))
    if isinstance(error, ServerError | UpstreamError | ServiceUnavailableError):
        return Trouble("AudioLasso failing", _short(str(error)))
    return Trouble("AudioLasso answer unusable", _short(str(error)))


def _network_cause(error: ConnectionFailedError) -> str:
    text = " ".join(str(link).lower() for link in _chain(error))
    for words, cause in _NETWORK_CAUSES:
        if words in text:
            return cause
    return _short(error.message)


def _chain(exc: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(links) < 8:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


def _short(text: str) -> str:
    return text if len(text) <= _CAUSE_CHARS else f"{text[: _CAUSE_CHARS - 1]}…"


class BackoffBatchProcessor(BatchProcessor):
    """Powertools' SQS BatchProcessor whose failure handler also shortens a transient failure's wait.

    `failure_handler` is the hook Powertools documents for extending the processor; `sqs` builds the SQS
    client on first use (the function builds its clients on the first invocation, not at import); `delay`
    maps the record's receive count to its wait (tests of the local runtime pass seconds-long ones). Every
    record gets its own verdict, even when all fail: the partial response is the one retry signal, and a
    batch that failed whole is no function error with a traceback per record.
    """

    def __init__(self, sqs: Callable[[], Any], delay: Callable[[int], int] = retry_delay) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._sqs = sqs
        self._delay = delay

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        trouble = transient_trouble(exception[1])
        if trouble is not None and isinstance(record, SQSRecord):
            self._retry_soon(record, trouble)
        return super().failure_handler(record, exception)

    def _retry_soon(self, record: SQSRecord, trouble: Trouble) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        delay = self._delay(receives)
        try:
            self._sqs().change_message_visibility(
                QueueUrl=record.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
            )
        except (BotoCoreError, ClientError) as error:
            # The message then waits out the queue's own timeout: later, never lost.
            logger.warning("could not shorten the retry delay", cause=str(trouble), error=str(error))
            return
        logger.info(
            "message retried soon", retry_in_seconds=delay, receive_count=receives, cause=str(trouble)
        )
