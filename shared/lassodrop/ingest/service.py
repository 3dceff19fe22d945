"""What ingest does with one created object: claim its job row, check it, relay it, submit it, queue a check.

Terminal problems (bad input, an object that is gone, a 4xx from AudioLasso) are recorded on the job row and
returned; retryable ones (network, 5xx, throttling, a lease held by another worker) are raised, so only that
SQS message fails and is redelivered, and lands in the DLQ if it keeps failing.
"""

import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lassodrop.audiolasso import AudioLassoClient, AudioLassoError, InvalidInputError
from lassodrop.audiolasso.models import Submission
from lassodrop.ingest.config import IngestConfig
from lassodrop.ingest.events import ObjectRef, parse_event, parse_message_body
from lassodrop.ingest.prompts import PromptChoice, choose_prompt
from lassodrop.ingest.relay import ObjectHead, PinnedObject, S3Objects, relay
from lassodrop.ingest.validation import SNIFF_BYTES, RejectCode, Rejection, check_size, resolve_content_type
from lassodrop.jobs import ClaimResult, ConcurrentChangeError, Job, JobStore, Status
from lassodrop.observability import logger, metrics
from lassodrop.runtime import AwsClients, ClientFactory

_OBJECT_LOG_KEYS = ("bucket", "object_key", "version_id", "object_id", "request_id", "attempt")


class Outcome(StrEnum):
    SUBMITTED = "SUBMITTED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # folder keys and keys outside the input prefix: no row
    DUPLICATE = "DUPLICATE"  # the row is already submitted or finished
    CHECK_REQUEUED = "CHECK_REQUEUED"  # submitted earlier, but its first status check was never queued


class LeaseHeldError(RuntimeError):
    """Another worker is uploading this object under a live lease; retried later (SQS redelivery)."""


class RecordsFailedError(RuntimeError):
    """Some objects of one message or event failed retryably; the whole message is retried."""


@dataclass
class IngestService:
    config: IngestConfig
    jobs: JobStore
    objects: S3Objects
    sqs: Any
    client: Callable[[], AudioLassoClient]
    new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32)

    def handle_message(self, record: SQSRecord) -> list[Outcome]:
        """Record handler for the SQS batch processor: every object in the message body."""
        return self.process_all(parse_message_body(record.body))

    def handle_direct(self, event: Mapping[str, Any]) -> list[Outcome]:
        """A direct invocation with an S3 notification or an EventBridge event."""
        return self.process_all(parse_event(event))

    def process_all(self, refs: Iterable[ObjectRef]) -> list[Outcome]:
        """Process every object, even after one fails, then raise if any failed retryably."""
        outcomes: list[Outcome] = []
        failures: list[Exception] = []
        for ref in refs:
            try:
                outcomes.append(self.process(ref))
            except Exception as exc:  # re-raised below, after the other objects had their turn
                failures.append(exc)
        if len(failures) == 1 and not outcomes:
            raise failures[0]
        if failures:
            raise RecordsFailedError(f"{len(failures)} object(s) failed and will be retried") from failures[0]
        return outcomes

    def process(self, ref: ObjectRef) -> Outcome:
        with _object_log_context(ref):
            try:
                return self._process(ref)
            except Exception:
                logger.exception("object failed; it will be retried")
                raise

    def _process(self, ref: ObjectRef) -> Outcome:
        if ref.is_folder or not ref.key.startswith(self.config.input_prefix):
            logger.info("object skipped", why="folder key" if ref.is_folder else "outside the input prefix")
            metrics.add_metric(name="ObjectsSkipped", unit=MetricUnit.Count, value=1)
            return Outcome.SKIPPED
        metrics.add_metric(name="ObjectsReceived", unit=MetricUnit.Count, value=1)
        try:
            obj = self._pin(ref)
        except Rejection as rejection:  # an event naming neither version nor ETag, for a deleted object
            logger.warning("object gone before it had a row", code=rejection.code, reason=rejection.reason)
            return Outcome.REJECTED
        claim = self.jobs.claim_upload(
            obj.bucket,
            obj.key,
            version_id=obj.version_id,
            etag=obj.etag,
            lease_seconds=self.config.upload_lease_seconds,
            ttl_days=self.config.job_ttl_days,
        )
        logger.append_keys(object_id=claim.job.object_id, attempt=claim.job.attempts)
        logger.set_correlation_id(claim.job.object_id)
        if claim.result is ClaimResult.LEASE_HELD:
            raise LeaseHeldError(
                f"{claim.job.object_id} is being uploaded under a lease until {claim.job.lease_until}"
            )
        if claim.result is ClaimResult.ALREADY_SUBMITTED:
            return self._ensure_first_check(claim.job)
        if claim.result is ClaimResult.FINISHED:
            logger.info("object already finished; skipping", status=claim.job.status)
            return Outcome.DUPLICATE
        return self._ingest(claim.job, obj)

    def _pin(self, ref: ObjectRef) -> PinnedObject:
        if ref.version_id or ref.etag:
            return PinnedObject(ref.bucket, ref.key, ref.version_id, ref.etag)
        # A hand-made event without version or ETag: pin whatever is there now.
        head = self.objects.head(PinnedObject(ref.bucket, ref.key))
        return PinnedObject(ref.bucket, ref.key, head.version_id, head.etag)

    def _ingest(self, job: Job, obj: PinnedObject) -> Outcome:
        try:
            submission = self._upload_and_submit(job, obj)
        except Rejection as rejection:
            return self._reject(job, rejection)
        except InvalidInputError as error:  # the client's own pre-check: bad input, not a service failure
            return self._reject(job, Rejection(RejectCode.INVALID_INPUT, error.message))
        except AudioLassoError as error:
            if error.retryable:
                self._release(job)
                raise
            return self._fail(job, error)
        except BaseException:
            self._release(job)
            raise
        if submission is None:
            return Outcome.DUPLICATE
        self._enqueue_first_check(submission)
        return Outcome.SUBMITTED

    def _upload_and_submit(self, job: Job, obj: PinnedObject) -> Job | None:
        head = self.objects.head(obj)
        check_size(head.size)
        content_type = resolve_content_type(
            head.content_type, obj.key, lambda: self.objects.read_head(obj, SNIFF_BYTES)
        )
        choice = choose_prompt(obj.key, head.metadata, self.config.prefix_prompts, self.config.default_prompt)
        token = self.new_token() if self.config.webhook_base_url else None
        self._record_details(job, head, content_type, choice, token)
        client = self.client()
        result = relay(client, self.objects, obj, content_type=content_type, size=head.size)
        metrics.add_metric(name="BytesRelayed", unit=MetricUnit.Bytes, value=result.bytes_sent)
        metrics.add_metric(name="RelaySeconds", unit=MetricUnit.Seconds, value=result.seconds)
        logger.info(
            "upload finished", bytes=result.bytes_sent, seconds=round(result.seconds, 3), opens=result.opens
        )
        submission = client.submit(
            choice.prompt,
            file_id=result.upload.file_id,
            spans=choice.spans,
            webhook_url=self._webhook_url(job, token),
        )
        return self._record_submission(job, result.upload.file_id, submission)

    def _record_details(
        self, job: Job, head: ObjectHead, content_type: str, choice: PromptChoice, token: str | None
    ) -> None:
        details: dict[str, Any] = {
            "size": head.size,
            "content_type": content_type,
            "prompt": choice.prompt,
            "prompt_source": choice.source,
            "etag": head.etag,
        }
        details |= {"spans": json.dumps(choice.spans)} if choice.spans else {}
        details |= {"webhook_token": token} if token else {}
        if self.jobs.record_details(job.object_id, attempt=job.attempts, details=details) is None:
            raise ConcurrentChangeError(f"{job.object_id} was taken over by another worker")

    def _record_submission(self, job: Job, file_id: str, submission: Submission) -> Job | None:
        # Written before anything else can fail: the request id of a paid job must never be lost (it is also
        # on every log line from here, in case this very write fails).
        logger.append_keys(request_id=submission.request_id)
        recorded = self.jobs.mark_submitted(
            job.object_id,
            file_id=file_id,
            request_id=submission.request_id,
            status_url=submission.status_url,
            result_url=submission.result_url,
        )
        if recorded is None:
            logger.error(
                "job submitted but the row had moved on", status=_status_of(self.jobs.get(job.object_id))
            )
            return None
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        logger.info("job submitted", file_id=file_id)
        return recorded

    def _webhook_url(self, job: Job, token: str | None) -> str | None:
        base = self.config.webhook_base_url
        if not base or not token:
            return None
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{urlencode({'token': token, 'object_id': job.object_id})}"

    def _ensure_first_check(self, job: Job) -> Outcome:
        if job.status is Status.SUBMITTED and not job.get("first_check_enqueued_at"):
            logger.info("job already submitted; queueing its missing first check", request_id=job.request_id)
            self._enqueue_first_check(job)
            return Outcome.CHECK_REQUEUED
        logger.info("job already submitted; skipping", status=job.status, request_id=job.request_id)
        return Outcome.DUPLICATE

    def _enqueue_first_check(self, job: Job) -> None:
        # A failure here raises: the redelivered message finds the row SUBMITTED and queues the check again.
        body = {"object_id": job.object_id, "request_id": job.request_id, "reason": "first-check"}
        self.sqs.send_message(
            QueueUrl=self.config.check_queue_url,
            MessageBody=json.dumps(body),
            DelaySeconds=self.config.first_check_delay_seconds,
        )
        self.jobs.mark_check_enqueued(job.object_id)

    def _reject(self, job: Job, rejection: Rejection) -> Outcome:
        self.jobs.mark_rejected(job.object_id, code=rejection.code, reason=rejection.reason)
        logger.warning("object rejected", code=rejection.code, reason=rejection.reason)
        _count_by_reason("ObjectsRejected", rejection.code)
        return Outcome.REJECTED

    def _fail(self, job: Job, error: AudioLassoError) -> Outcome:
        code = error.code or type(error).__name__
        reason = f"AudioLasso refused the object ({error.status_code or 'no status'} {code}): {error.message}"
        self.jobs.mark_failed(job.object_id, code=code, message=error.message, reason=reason)
        logger.error("object failed for good", code=code, status_code=error.status_code, reason=reason)
        _count_by_reason("JobsFailed", code)
        return Outcome.FAILED

    def _release(self, job: Job) -> None:
        # Best effort: if this write fails too, the lease runs out and a later delivery reclaims the row.
        try:
            self.jobs.release_lease(job.object_id, attempt=job.attempts)
        except Exception:
            logger.exception("could not release the upload lease")


def _count_by_reason(name: str, reason: str) -> None:
    # Its own EMF document: a dimension added to the shared Metrics would apply to every metric in the flush.
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as metric:
        metric.add_dimension(name="reason", value=str(reason))


def _status_of(job: Job | None) -> str | None:
    return job.status if job else None


@contextmanager
def _object_log_context(ref: ObjectRef) -> Iterator[None]:
    logger.append_keys(bucket=ref.bucket, object_key=ref.key, version_id=ref.version_id)
    try:
        yield
    finally:
        logger.remove_keys(_OBJECT_LOG_KEYS)
        logger.set_correlation_id(None)


def build_service(
    config: IngestConfig, clients: AwsClients, client: Callable[[], AudioLassoClient] | None = None
) -> IngestService:
    """Wire the service to AWS and AudioLasso; tests pass moto-backed clients and an emulator client."""
    return IngestService(
        config=config,
        jobs=JobStore(clients.table(config.jobs_table)),
        objects=S3Objects(clients.s3),
        sqs=clients.sqs,
        client=client or ClientFactory(config.api),
    )
