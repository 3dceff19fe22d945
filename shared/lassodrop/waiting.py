"""Account trouble pauses files, never fails them: a refused key (401), no credits (402), no scope (403).

That trouble is the account's, not the file's, and the same for every file, so:

- The file's row goes WAITING (why, since when, and the step it goes on from) and its SQS message is parked:
  sent again to its own queue with DelaySeconds (`park_delay_seconds`, at most SQS's 900) and acknowledged.
  Each park is a new message with its own receive count and retention, so a wait never reaches a DLQ however
  long it lasts, and nothing has to redrive it.
- The first worker to meet the trouble opens the shared breaker (lassodrop.jobs.breaker, a conditional write)
  and alone publishes `Pipeline Waiting`. While it is open, a parked message arriving either takes the one
  probe lease and runs its real next step as the probe, or parks again without calling AudioLasso.
- A probe that succeeds closes the breaker (conditionally, so only the closer publishes `Pipeline Resumed`);
  every parked file then goes on at its next arrival from where it stopped, keeping its uploaded file id.

The bound: while the breaker is open, AudioLasso gets about one call per park delay (the probe lease lasts one
park delay and a failed probe leaves it in place), plus at most one call for each file that was already past
the gate when the trouble began. A scheduler (a timer that polls the account and redrives a queue) was not
used: it would be one more function, schedule and permission set, it would have to find the waiting files,
and its redrive would re-run each one from the start; parked messages are already the list of waiting files,
each carrying exactly what it needs to go on, and their delay is the timer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from lassodrop.audiolasso.errors import (
    AudioLassoError,
    AuthenticationError,
    Call,
    InsufficientCreditsError,
    PermissionDeniedError,
    Verdict,
    classify,
)
from lassodrop.events import EventPublisher
from lassodrop.jobs import Step, Waiting, WaitingFor
from lassodrop.jobs.breaker import Breaker, BreakerStore
from lassodrop.observability import logger, metrics

if TYPE_CHECKING:
    from lassodrop.audiolasso import AudioLassoClient

WAITING_EVENT = "Pipeline Waiting"
RESUMED_EVENT = "Pipeline Resumed"

T = TypeVar("T")

_NEEDS = {
    AuthenticationError: WaitingFor.API_KEY,
    InsufficientCreditsError: WaitingFor.CREDITS,
    PermissionDeniedError: WaitingFor.PERMISSION,
}
_REASONS = {
    WaitingFor.API_KEY: "AudioLasso refused the API key",
    WaitingFor.CREDITS: "The AudioLasso account has no credits left",
    WaitingFor.PERMISSION: "The AudioLasso API key lacks a permission (scope) it needs",
}


class Gate(StrEnum):
    """What a worker may do before calling AudioLasso for one file."""

    GO = "go"  # the breaker does not hold this step
    PROBE = "probe"  # it does, and this worker holds the one probe lease: make the real call
    HOLD = "hold"  # it does, and another worker probes: wait without calling


@dataclass(frozen=True)
class Passage:
    """The gate's answer; `held_for` is the open breaker's reason, for a file held without a call."""

    gate: Gate
    held_for: Waiting | None = None


def waiting_of(error: AudioLassoError, call: Call = Call.READ) -> Waiting | None:
    """Why a file must wait after `error`, or None when the error is not account trouble."""
    if classify(error, call) is not Verdict.ACCOUNT:
        return None
    need = next(need for kind, need in _NEEDS.items() if isinstance(error, kind))
    return Waiting(need, error.message)


def call_with_fresh_key(
    client: Callable[[], AudioLassoClient],
    refresh_key: Callable[[], bool],
    call: Callable[[AudioLassoClient], T],
    kind: Call = Call.READ,
) -> T:
    """Make `call`; if AudioLasso refuses the key or its scopes, re-read the secret once and, if the key
    changed there, make the call once more with the new key (so a corrected key is used at once).

    Repeating is safe for every kind of call, a submit included: a 401 or 403 is answered before any job is
    created.
    """
    try:
        return call(client())
    except (AuthenticationError, PermissionDeniedError) as error:
        if classify(error, kind) is not Verdict.ACCOUNT or not refresh_key():
            raise
        logger.info("API key refused; its secret holds a new one, trying again with it", error=str(error))
    return call(client())


def never_refreshes() -> bool:
    """For a client whose key cannot change (tests, tools): nothing to re-read."""
    return False


@dataclass
class Pauses:
    """The breaker, its events and the FilesWaiting metric, shared by ingest and collect."""

    breaker: BreakerStore
    publisher: EventPublisher
    park_delay_seconds: int
    clock: Callable[[], float]

    def gate(self, step: Step) -> Passage:
        """Whether a worker of `step` may call AudioLasso now (a consistent read, and a write to probe)."""
        state = self.breaker.read()
        if not state.holds(step) or state.waiting_for is None:
            return Passage(Gate.GO)
        if self.breaker.take_probe(self.park_delay_seconds):
            logger.info("AudioLasso breaker open; this file probes it", waiting_for=state.waiting_for)
            return Passage(Gate.PROBE)
        return Passage(Gate.HOLD, Waiting(state.waiting_for, state.message or ""))

    def started_waiting(
        self, waiting: Waiting, step: Step, *, counted: bool = False, met: bool = True
    ) -> None:
        """A file just went WAITING: open the breaker (the opener publishes) or count the file.

        `counted`: the file was waiting already (a failed probe), so it is neither counted nor measured again.
        `met`: AudioLasso refused this file's own call. A file held by the breaker without a call never opens
        it: the breaker may have closed since the gate, and its reason would be stale.
        """
        if not counted:
            metrics.add_metric(name="FilesWaiting", unit=MetricUnit.Count, value=1)
        logger.warning("file waits for the AudioLasso account", waiting_for=waiting.waiting_for, step=step)
        opened = self.breaker.open(waiting, step, self.park_delay_seconds) if met else None
        if opened is not None:
            self._publish_waiting(opened)
        elif not counted:
            self.breaker.count_waiting()

    def went_on(self) -> None:
        """A probe's step succeeded: close the breaker; the closer publishes."""
        closed = self.breaker.close()
        if closed is not None:
            self._publish_resumed(closed)

    def _publish_waiting(self, opened: Breaker) -> None:
        need = opened.waiting_for or WaitingFor.API_KEY
        detail = {
            "reason": _REASONS[need],
            "waiting_for": str(need),
            "message": opened.message,
            "files_waiting": opened.files_waiting,
        }
        self._publish(WAITING_EVENT, detail)

    def _publish_resumed(self, closed: Breaker) -> None:
        waited = max(0, int(self.clock()) - (closed.opened_at or int(self.clock())))
        self._publish(RESUMED_EVENT, {"waited_seconds": waited, "files_resumed": closed.files_waiting})

    def _publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        # Best effort: the breaker has already changed and the files wait or go on either way; failing the
        # file's message for a lost notice would only delay the file.
        try:
            event_id = self.publisher.publish(detail_type, detail)
        except Exception:
            logger.exception("could not publish the breaker's event", detail_type=detail_type)
            return
        logger.info("event published", detail_type=detail_type, event_id=event_id, detail=detail)
