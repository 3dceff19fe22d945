"""One check message: read the job once, then re-check later, collect the outputs, or record its end.

Account trouble (a refused key or scope) is no end: the job waits and its check is parked (lassodrop.waiting).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from boto3.s3.transfer import TransferConfig

from lassodrop.audiolasso.errors import (
    AudioLassoError,
    AuthenticationError,
    ExpiredError,
    JobFailedError,
    NotFoundError,
    NotReadyError,
    PermissionDeniedError,
    UnsafeUrlError,
    Verdict,
    classify,
)
from lassodrop.audiolasso.models import JobResult, JobStatus
from lassodrop.collect import resultdoc
from lassodrop.collect.config import CollectConfig
from lassodrop.collect.outputs import (
    OutputLayout,
    OutputRefusedError,
    OutputTarget,
    OutputTooLargeError,
    StoredOutput,
    copy_output,
    stem_format,
    transfer_config,
)
from lassodrop.events import EndEvents, EventPublisher
from lassodrop.jobs import ConcurrentChangeError, Ending, Job, JobError, JobStore, Status, Step, Waiting
from lassodrop.messages import SQS_MAX_DELAY_SECONDS, CheckMessage, CheckQueue, CheckReason
from lassodrop.observability import logger, metrics
from lassodrop.redelivery import transient_trouble
from lassodrop.timestamps import epoch, iso, parse_iso, utcnow
from lassodrop.waiting import Gate, Passage, Pauses, call_with_fresh_key, never_refreshes, waiting_of

if TYPE_CHECKING:
    from lassodrop.audiolasso import AudioLassoClient


class OutputUrlRefusedError(RuntimeError):
    """A signed output URL answered 401/403: retried through SQS (never a pause: the URL has no key)."""


@dataclass
class Collector:
    """Everything collect needs, handed in: tests pass moto clients and an emulator-backed API client."""

    config: CollectConfig
    jobs: JobStore
    api_client: Callable[[], AudioLassoClient]
    s3: Any
    checks: CheckQueue
    publisher: EventPublisher
    pauses: Pauses
    refresh_key: Callable[[], bool] = never_refreshes
    clock: Callable[[], datetime] = utcnow
    transfer: TransferConfig = field(default_factory=transfer_config)

    @property
    def ends(self) -> EndEvents:
        return EndEvents(self.publisher, self.jobs, self.clock)

    @property
    def api(self) -> AudioLassoClient:
        """The client for the current API key (the factory rebuilds it after a key rotation)."""
        return self.api_client()

    def handle(self, message: CheckMessage) -> str:
        """Process one check; returns a short outcome for logs and tests. Raises for retryable failures."""
        job = self.jobs.get(message.object_id)
        if job is None:
            logger.warning("check for unknown job", object_id=message.object_id)
            return "unknown-job"
        logger.append_keys(object_key=job.key, request_id=job.request_id)
        if job.is_terminal:
            return self.ends.publish_pending(job)
        if job.status is Status.WAITING and job.waiting_step is Step.COLLECT:
            return self._resume(job, message)
        if job.status not in (Status.SUBMITTED, Status.COLLECTING) or not job.request_id:
            # Ingest has not submitted yet; it enqueues its own first check once it has.
            logger.info("check before submit", status=job.status)
            return "not-submitted"
        if job.status == Status.COLLECTING and (job.lease_until or 0) >= epoch(self.clock()):
            return self._leave_to_collector(job, message)
        passage = self.pauses.gate(Step.COLLECT)
        if passage.held_for is not None:
            return self._wait(job, message, passage.held_for, met=False)
        return self._follow(job, message, passage)

    def _follow(self, job: Job, message: CheckMessage, passage: Passage, *, counted: bool = False) -> str:
        """Read the job's status for this message: a webhook at most once per interval, a chain link once."""
        if message.reason == CheckReason.WEBHOOK:
            # A webhook starts no chain, and causes at most one status read per job per interval.
            if not self._take_webhook_check(job):
                return "throttled"
            return self._check(job, message, passage, counted=counted)
        if job.status != Status.SUBMITTED:
            # A COLLECTING row whose lease ran out is decided by claim_collect.
            return self._check(job, message, passage, counted=counted)
        # Messages queued before links were numbered belong to the link the row is at.
        link = job.checks if message.link is None else message.link
        claimed = self.jobs.claim_check(job.object_id, link, self.clock())
        if claimed is None:
            logger.info("duplicate check dropped", link=link, row_link=job.checks)
            return "duplicate"
        try:
            return self._check(claimed, replace(message, link=link), passage, counted=counted)
        except BaseException:
            # Let the redelivered copy of this link take it at once rather than be dropped as a duplicate.
            self.jobs.release_check(job.object_id, link)
            raise

    def _resume(self, job: Job, message: CheckMessage) -> str:
        """A check for a job waiting for the account: park it again, or take it up (as the probe, maybe)."""
        if message.reason == CheckReason.WEBHOOK:
            # The job's own poll chain is parked and takes it up; resuming here could end that chain.
            return "waiting"
        passage = self.pauses.gate(Step.COLLECT)
        if passage.held_for is not None:
            self._park(message)
            return "waiting"
        resumed = self.jobs.resume_collect(job.object_id)
        if resumed is None:
            logger.info("waiting job changed before it was resumed")
            return "lost-race"
        logger.info("waiting job resumed", waited_since=job.waiting_since)
        # Copies of the parked link that were parked side by side meet here: one takes the link.
        return self._follow(resumed, message, passage, counted=True)

    def _check(self, job: Job, message: CheckMessage, passage: Passage, *, counted: bool = False) -> str:
        watch = self.config.schedule.watch_for(self._age(job)) if _is_first_link(job, message) else 0.0
        try:
            status = call_with_fresh_key(
                self.api_client, self.refresh_key, lambda api: self._read_status(api, job, watch)
            )
            if watch and status.status == "COMPLETED":
                outcome = self._collect_afresh(job)
            else:
                outcome = self._act_on(job, status, message)
        except AudioLassoError as error:
            waiting = waiting_of(error)
            if waiting is not None:
                return self._wait(job, message, waiting, counted=counted)
            if classify(error) is not Verdict.TERMINAL:
                self._note_transient(job, error)
                raise
            # Asking again gets the same answer (a URL we refuse, a request the service does not know), so
            # record it on the row instead of retrying the message into the DLQ with nothing said.
            logger.warning("job cannot be followed", error=str(error))
            # The row keeps the code and the client's bounded message (str() would prefix the status again).
            return self._fail(job, _code_of(error), error.message, reason="the job could not be followed")
        if passage.gate is Gate.PROBE:
            # Closed only once the whole step went through: a status read alone would not prove the result
            # can be read too, and closing too early would open the breaker again (and tell twice).
            self.pauses.went_on()
        return outcome

    def _wait(
        self, job: Job, message: CheckMessage, waiting: Waiting, *, counted: bool = False, met: bool = True
    ) -> str:
        """The job waits for the account: its row says why, the breaker opens, its check is parked."""
        if self.jobs.wait_collect(job.object_id, waiting, self.clock()) is None:
            logger.info("job changed before it could wait", status=job.status)
            return "lost-race"
        self.pauses.started_waiting(waiting, Step.COLLECT, counted=counted, met=met)
        self._park(message)
        return "waiting"

    def _park(self, message: CheckMessage) -> None:
        """Send the job's check again, delayed; the message in hand is then acknowledged (never a DLQ)."""
        if message.reason == CheckReason.WEBHOOK:
            # A webhook's check is a hint and starts no chain; the job's poll chain carries on parked.
            return
        delay = self.pauses.park_delay_seconds
        self.checks.send(message, delay)
        logger.info("check parked", delay_seconds=delay, link=message.link)

    def _take_webhook_check(self, job: Job) -> bool:
        """One webhook-caused status read per job per interval, however many are queued (see webhook.py)."""
        interval = self.config.webhook_check_interval_seconds
        if self.jobs.take_webhook_check(job.object_id, self.clock(), interval):
            return True
        logger.info("webhook check dropped: one was made within the interval", interval_seconds=interval)
        return False

    def _leave_to_collector(self, job: Job, message: CheckMessage) -> str:
        """Another worker is copying the outputs under a live lease: this message needs no retry of its own.

        A webhook is dropped. A chain link comes back once that lease has run out, so the chain outlives a
        collector that dies, and is still the only one.
        """
        if message.reason == CheckReason.WEBHOOK or message.link is None:
            logger.info("check dropped: outputs are being collected", lease_until=job.lease_until)
            return "collecting-elsewhere"
        wait = (job.lease_until or 0) - epoch(self.clock()) + 1
        delay = min(SQS_MAX_DELAY_SECONDS, max(1, wait))
        self.checks.send(message, delay)
        logger.info("check deferred: outputs are being collected", delay_seconds=delay, link=message.link)
        return "collecting-elsewhere"

    def _note_transient(self, job: Job, error: AudioLassoError) -> None:
        """Log a transient failure in a few words and count it on the row (the message is retried soon)."""
        trouble = transient_trouble(error)
        if trouble is None:
            return
        logger.warning(trouble.summary, cause=trouble.cause)
        # Best effort: the retry matters, the note on the row only explains it.
        try:
            self.jobs.record_check_failure(job.object_id, str(trouble))
        except Exception:
            logger.exception("could not note the failed check on the row")

    def _read_status(self, api: AudioLassoClient, job: Job, watch: float) -> JobStatus:
        """One plain status read, or early in a job's life the status stream, followed for `watch` seconds."""
        request_id = job.request_id or ""
        if watch:
            logger.info("following the status stream", watch_seconds=round(watch, 1))
            seen = api.watch_status(request_id, stream_url=job.stream_url, seconds=watch)
            if seen is not None:
                return seen
        return api.status(request_id, status_url=job.status_url)

    def _collect_afresh(self, job: Job) -> str:
        """The watch saw the job complete, maybe minutes into this invocation: the chain's next link, sent at
        once, copies the outputs with the function's whole Timeout (at the cost of one more status read)."""
        self._enqueue_next_link(job, 0)
        logger.info("job completed while watched; collecting in a fresh invocation")
        return "completed-while-watched"

    def _enqueue_next_link(self, job: Job, delay: int) -> None:
        checks = job.checks
        # Enqueue before recording: a failed send fails the message (retried) and never ends the chain.
        next_link = CheckMessage(job.object_id, job.request_id, CheckReason.POLL, link=checks + 1)
        self.checks.send(next_link, delay)
        self.jobs.record_check(job.object_id, checks + 1, delay)
        logger.info("check re-enqueued", delay_seconds=delay, checks=checks + 1)

    def _age(self, job: Job) -> float:
        now = self.clock()
        return (now - (parse_iso(job.submitted_at) or now)).total_seconds()

    def _act_on(self, job: Job, status: JobStatus, message: CheckMessage) -> str:
        logger.info("job status read", service_status=status.status, reason=message.reason)
        if status.status == "COMPLETED":
            return self._collect(job, status, message)
        if status.status == "FAILED":
            code = status.error.code if status.error else "UNKNOWN"
            text = status.error.message if status.error else "the service reported FAILED without an error"
            return self._fail(job, code, text)
        return self._not_ready(job, message)

    def _not_ready(self, job: Job, message: CheckMessage) -> str:
        age = self._age(job)
        if age >= self.config.give_up_after_seconds:
            text = f"no terminal status within {self.config.give_up_after_seconds} s of submission"
            return self._end(job, Ending(Status.TIMED_OUT, "timed out", JobError("TIMED_OUT", text)))
        if message.reason == CheckReason.WEBHOOK:
            # The poll chain is still alive; re-enqueueing here would fork a second chain per webhook.
            return "not-ready"
        self._enqueue_next_link(job, self.config.schedule.next_delay(job.checks, age))
        return "re-enqueued"

    def _collect(self, job: Job, status: JobStatus, message: CheckMessage) -> str:
        completed_at = self.clock()
        try:
            result = self.api.result(job.request_id, result_url=job.result_url or status.result_url)
        except NotReadyError:
            return self._not_ready(job, message)
        except JobFailedError as error:
            return self._fail(job, error.code or "UNKNOWN", error.message)
        except (ExpiredError, NotFoundError) as error:
            return self._end(job, _expired("result", error))
        owner = uuid.uuid4().hex
        if not self.jobs.claim_collect(job.object_id, owner, completed_at, self.config.collect_lease_seconds):
            # Taken between our status read and now: that worker collects; this link waits on its lease.
            if message.link is not None:
                self.jobs.release_check(job.object_id, message.link)
            current = self.jobs.get(job.object_id)
            if current is not None and current.is_terminal:
                return self.ends.publish_pending(current)
            if current is None or current.status != Status.COLLECTING:
                raise ConcurrentChangeError(f"{job.object_id} changed while claiming its collection")
            return self._leave_to_collector(current, message)
        try:
            return self._copy_and_complete(job, result, owner, completed_at)
        except BaseException:
            # Network or S3 trouble: hand the job back so the redelivered check can claim it at once.
            self.jobs.release_collect(job.object_id, owner)
            raise

    def _copy_and_complete(self, job: Job, result: JobResult, owner: str, completed_at: datetime) -> str:
        layout = OutputLayout.for_input(self.config.output_prefix, job.key, job.version_id, job.etag)
        where = OutputTarget(self.config.output_bucket, layout, self.config.max_output_bytes, self.transfer)
        try:
            stored = self._copy_stems(result, where)
            collected_at = self.clock()
            timings = resultdoc.Timings(
                parse_iso(job.created_at), parse_iso(job.submitted_at), completed_at, collected_at
            )
            doc = resultdoc.build(_source(job), result.sample_rate, stored, timings)
            resultdoc.write(self.s3, self.config.output_bucket, layout.result_key, doc)
        except ExpiredError as error:
            return self._end(job, _expired("output", error), owner=owner)
        except OutputTooLargeError as error:
            too_large = Ending(Status.FAILED, str(error), JobError("OUTPUT_TOO_LARGE", str(error)))
            return self._end(job, too_large, owner=owner)
        except OutputRefusedError as error:
            # Not retried: the same write would be refused again, into the DLQ with nothing on the row.
            refused = Ending(
                Status.FAILED, "the outputs could not be written", JobError(error.code, error.message)
            )
            return self._end(job, refused, owner=owner)
        except (AuthenticationError, PermissionDeniedError) as error:
            # A signed output URL refused (it carries no key): not the account, so retried as before.
            raise OutputUrlRefusedError(str(error)) from error
        completed = Ending(
            Status.COMPLETED,
            outputs=_outputs_field(stored, self.config.output_bucket, layout.result_key),
            completed_at=iso(completed_at),
            collected_at=iso(collected_at),
            sample_rate=result.sample_rate,
        )
        outcome = self._end(job, completed, owner=owner)
        if outcome == Status.COMPLETED:
            _count_completion(stored, timings)
        return outcome

    def _copy_stems(self, result: JobResult, where: OutputTarget) -> list[StoredOutput]:
        """Both stems at once, each checked to be writable as audio before either is fetched.

        Concurrently, so the function's timeout bounds the larger stem's copy rather than the sum of both:
        two 5 GiB stems within collect's 300 s need about 17 MiB/s each instead of 35 MiB/s in turn.
        Memory is twice one copy's (see transfer_config). The boto3 client is thread-safe, and the API
        client's session opens one pooled connection per stream.
        """
        stems = {"target": result.target, "residual": result.residual}
        formats = {name: stem_format(output) for name, output in stems.items()}
        with ThreadPoolExecutor(max_workers=len(stems), thread_name_prefix="stem") as pool:
            copies = {
                name: pool.submit(copy_output, self.api, self.s3, name, output, formats[name], where)
                for name, output in stems.items()
            }
            # The first stem's error is raised once both copies have ended (a running copy cannot be
            # cancelled); a failed copy leaves no partial object (upload_stream).
            return [copy.result() for copy in copies.values()]

    def _fail(self, job: Job, code: str, text: str, *, reason: str = "the service failed the job") -> str:
        return self._end(job, Ending(Status.FAILED, reason, JobError(code, text)))

    def _end(self, job: Job, ending: Ending, *, owner: str | None = None) -> str:
        """Record a terminal status (conditionally), count it, then publish its event."""
        finished = self.jobs.finish(job.object_id, ending, self.clock(), owner=owner)
        if finished is None:
            logger.info("terminal write lost to another worker", status=ending.status)
            return "lost-race"
        logger.info("job finished", status=ending.status, reason=ending.reason)
        metrics.add_metric(name=_METRIC_BY_STATUS[ending.status], unit=MetricUnit.Count, value=1)
        self.ends.publish(finished)
        return str(ending.status)


_METRIC_BY_STATUS = {
    Status.COMPLETED: "JobsCompleted",
    Status.FAILED: "JobsFailed",
    Status.TIMED_OUT: "JobsTimedOut",
    Status.EXPIRED: "JobsExpired",
}


def _count_completion(stored: list[StoredOutput], timings: resultdoc.Timings) -> None:
    metrics.add_metric(name="OutputBytes", unit=MetricUnit.Bytes, value=sum(output.size for output in stored))
    if timings.received_at is not None:
        seconds = (timings.collected_at - timings.received_at).total_seconds()
        metrics.add_metric(name="EndToEndSeconds", unit=MetricUnit.Seconds, value=seconds)


def _outputs_field(stored: list[StoredOutput], bucket: str, doc_key: str) -> dict[str, Any]:
    outputs: dict[str, Any] = {output.name: output.as_dict() for output in stored}
    outputs["result"] = {"bucket": bucket, "key": doc_key, "uri": f"s3://{bucket}/{doc_key}"}
    return outputs


def _source(job: Job) -> resultdoc.Source:
    return resultdoc.Source(
        object_id=job.object_id,
        bucket=job.bucket,
        key=job.key,
        version_id=job.version_id,
        etag=job.etag,
        prompt=job.prompt or "",
        request_id=job.request_id or "",
    )


def _is_first_link(job: Job, message: CheckMessage) -> bool:
    """Only the chain's first link, taken on a submitted job, follows the stream: a webhook is a one-off hint,
    a COLLECTING row is decided by claim_collect, and the link after a watch must read, not watch again."""
    first = message.reason != CheckReason.WEBHOOK and message.link == 0
    return first and job.status is Status.SUBMITTED


def _code_of(error: AudioLassoError) -> str:
    if error.code:
        return error.code
    return "UNSAFE_URL" if isinstance(error, UnsafeUrlError) else f"HTTP_{error.status_code}"


def _expired(what: str, error: ExpiredError | NotFoundError) -> Ending:
    return Ending(
        Status.EXPIRED, f"{what} expired before collection", JobError(error.code or "EXPIRED", error.message)
    )
