"""How ingest records an object's end on its row (rejected, failed, unconfirmed) or hands it back for a retry.

Each recorder writes the row through its named transition, logs one line, counts the outcome and publishes
its event (`Separation Rejected` or `Separation Failed`), so an end before any submit is seen outside the
table as well. A failed publish raises: the redelivered message finds the row ended and publishes then.
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from lassodrop.audiolasso import AudioLassoError
from lassodrop.events import EndEvents
from lassodrop.ingest.rejections import Rejection
from lassodrop.jobs import SUBMIT_UNCONFIRMED, ConcurrentChangeError, Job, JobStore
from lassodrop.observability import logger, metrics

_RETRY_ADVICE = (
    "Not submitted again, to avoid a second paid job. To retry, upload the object again (on an unversioned"
    " bucket identical bytes map to this same row: delete the row first)."
)
_UNANSWERED_SUBMIT = f"The submit may have reached AudioLasso but no answer came back. {_RETRY_ADVICE}"
_INTERRUPTED_SUBMIT = (
    f"The ingest worker stopped while submitting to AudioLasso; a job may exist there. {_RETRY_ADVICE}"
)


class Outcome(StrEnum):
    SUBMITTED = "SUBMITTED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # folder keys and keys outside the input prefix: no row
    DUPLICATE = "DUPLICATE"  # the row is already submitted or finished
    CHECK_REQUEUED = "CHECK_REQUEUED"  # submitted earlier, but its first status check was never queued


class OutcomeRecorder:
    """Ends, or releases, an object's row; `jobs` is the shared JobStore, `ends` publishes each end."""

    def __init__(self, jobs: JobStore, ends: EndEvents) -> None:
        self._jobs = jobs
        self._ends = ends

    def reject(self, job: Job, rejection: Rejection) -> Outcome:
        ended = self._jobs.mark_rejected(job.object_id, code=rejection.code, reason=rejection.reason)
        logger.warning("object rejected", code=rejection.code, reason=rejection.reason)
        count_by_reason("ObjectsRejected", rejection.code)
        self._publish(ended)
        return Outcome.REJECTED

    def fail(self, job: Job, error: AudioLassoError) -> Outcome:
        code = error.code or type(error).__name__
        reason = f"AudioLasso refused the object ({error.status_code or 'no status'} {code}): {error.message}"
        ended = self._jobs.mark_failed(job.object_id, code=code, message=error.message, reason=reason)
        logger.error("object failed for good", code=code, status_code=error.status_code, reason=reason)
        count_by_reason("JobsFailed", code)
        self._publish(ended)
        return Outcome.FAILED

    def fail_unanswered_submit(self, job: Job, error: AudioLassoError) -> Outcome:
        # Nothing is raised: a redelivery could only fail the same way, and no check is queued for a job
        # whose request id nobody knows.
        failed = self._jobs.mark_submit_unconfirmed(
            job.object_id, attempt=job.attempts, message=str(error), reason=_UNANSWERED_SUBMIT
        )
        if failed is None:
            logger.error("submit unconfirmed but the row had moved on", status=self.status_of(job))
        else:
            logger.error("submit unconfirmed; not resubmitted", code=SUBMIT_UNCONFIRMED, error=str(error))
        count_by_reason("JobsFailed", SUBMIT_UNCONFIRMED)
        self._publish(failed)
        return Outcome.FAILED

    def fail_interrupted_submit(self, job: Job) -> Outcome:
        message = f"submit started at {job.submit_started_at} by attempt {job.attempts}; no answer recorded"
        failed = self._jobs.mark_submit_unconfirmed(
            job.object_id,
            attempt=job.attempts,
            message=message,
            reason=_INTERRUPTED_SUBMIT,
            lease_until=job.lease_until,
        )
        if failed is None:
            raise ConcurrentChangeError(f"{job.object_id} changed while failing its interrupted submit")
        logger.error("interrupted submit found; not resubmitted", code=SUBMIT_UNCONFIRMED, error=message)
        count_by_reason("JobsFailed", SUBMIT_UNCONFIRMED)
        self._publish(failed)
        return Outcome.FAILED

    def publish_pending(self, job: Job) -> str:
        """The event of a row ended earlier whose publish was never confirmed (see lassodrop.events)."""
        return self._ends.publish_pending(job)

    def _publish(self, ended: Job | None) -> None:
        # None: another writer ended the row first, and publishes its own end.
        if ended is not None:
            self._ends.publish(ended)

    def release(self, job: Job, *, submit_refused: bool = False) -> None:
        """Hand the row back for the redelivery (see JobStore.release_lease)."""
        # Best effort: if this write fails too, the lease runs out and a later delivery reclaims the row (or,
        # with a submit marker still set, fails it as unconfirmed: the safe side).
        try:
            self._jobs.release_lease(job.object_id, attempt=job.attempts, submit_refused=submit_refused)
        except Exception:
            logger.exception("could not release the upload lease")

    def status_of(self, job: Job) -> str | None:
        current = self._jobs.get(job.object_id)
        return current.status if current else None


def count_by_reason(name: str, reason: str) -> None:
    """Count one end twice: in total (what the alarms watch) and by reason (to see what is going on)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    # Its own EMF document: a dimension added to the shared Metrics would apply to every metric in the flush.
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as metric:
        metric.add_dimension(name="reason", value=str(reason))
