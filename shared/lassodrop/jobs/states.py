"""The job row's states and every move between them: the one place to read the row's life.

```
 (no row) ──claim_upload──▶ UPLOADING ──mark_submitted──▶ SUBMITTED ──claim_collect──▶ COLLECTING
 RECEIVED ──claim_upload──▶   │ ▲                          │ ▲ claim_check, record_check│   │
                              │ └ record_details,          │ └────release_collect──────┘   │
                              │   record_upload,           │                               │
                              │   mark_submit_started,     │                               │
                              │   release_lease, and       └────────finish──┐   ┌──finish──┘
                              │   claim_upload once the                     ▼   ▼
                              │   lease ran out (no submit          COMPLETED, FAILED,
                              │   started)                          TIMED_OUT or EXPIRED
                              ├─mark_rejected──────────▶ REJECTED
                              ├─mark_failed────────────▶ FAILED
                              ├─mark_submit_unconfirmed▶ FAILED (SUBMIT_UNCONFIRMED)
                              └─wait_upload────────────▶ WAITING (upload) ──claim_upload──▶ UPLOADING
 SUBMITTED, or COLLECTING once its lease ran out ─wait_collect─▶ WAITING (collect) ─resume_collect─▶ SUBMITTED
 mark_check_enqueued: on SUBMITTED and later, status unchanged; record_check_failure: on SUBMITTED.
 claim_publish, mark_published: on every terminal status (whoever wrote it), status unchanged.
 take_webhook_check: on SUBMITTED or COLLECTING, status unchanged, at most once per interval.
 reopen (an operator's retry): any terminal status ──▶ RECEIVED, the ended attempt kept in `history`.
```

WAITING is account trouble at AudioLasso (a bad key, no credits, a missing scope: `waiting_for`), never the
file's fault: the row says which step it waits in (`waiting_step`) and goes on from there once the account is
fixed (lassodrop.waiting), so it is neither terminal nor ever failed for it.

`MOVES` is that drawing as data: for each named transition of `JobStore`, the statuses it may start from and
the status it leaves. Some moves have a further precondition, checked in the same conditional write and named
beside the move here (a lease that must have run out, the lease token the caller must hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "RECEIVED"
    UPLOADING = "UPLOADING"
    SUBMITTED = "SUBMITTED"
    COLLECTING = "COLLECTING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    EXPIRED = "EXPIRED"
    WAITING = "WAITING"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.REJECTED, Status.TIMED_OUT, Status.EXPIRED})
# Rows past these states already hold a job at AudioLasso: ingest must never submit for them again.
SUBMITTED_OR_LATER = frozenset(
    {Status.SUBMITTED, Status.COLLECTING, Status.COMPLETED, Status.TIMED_OUT, Status.EXPIRED}
)
# Terminal statuses collect writes (and so owns the event for); REJECTED and ingest's FAILED are ingest's.
COLLECT_TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.TIMED_OUT, Status.EXPIRED})


@dataclass(frozen=True)
class Move:
    """A named transition: from `sources` to `target` (None: the status stays), and its extra precondition."""

    sources: frozenset[Status]
    target: Status | frozenset[Status] | None
    also: str = ""


_UPLOADING = frozenset({Status.UPLOADING})

MOVES: dict[str, Move] = {
    # ingest
    "claim_upload": Move(
        frozenset({Status.RECEIVED, Status.UPLOADING, Status.WAITING}),
        Status.UPLOADING,
        "or no row yet; an UPLOADING row only once its lease ran out and no submit was started; a WAITING"
        " row only while it waits in the upload step",
    ),
    "record_details": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "record_upload": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "mark_submit_started": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "release_lease": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "mark_submit_unconfirmed": Move(
        _UPLOADING, Status.FAILED, "caller's attempt; a submit was started and no request id recorded"
    ),
    "mark_submitted": Move(_UPLOADING, Status.SUBMITTED),
    "mark_check_enqueued": Move(SUBMITTED_OR_LATER, None),
    "mark_rejected": Move(frozenset({Status.RECEIVED, Status.UPLOADING}), Status.REJECTED),
    "mark_failed": Move(frozenset({Status.RECEIVED, Status.UPLOADING}), Status.FAILED),
    "wait_upload": Move(_UPLOADING, Status.WAITING, "caller holds the upload lease (attempt)"),
    # collect
    "claim_check": Move(
        frozenset({Status.SUBMITTED}), None, "the row is at the caller's link and no live check lease"
    ),
    "release_check": Move(frozenset({Status.SUBMITTED, Status.COLLECTING}), None, "the row is at the link"),
    "record_check": Move(frozenset({Status.SUBMITTED}), None, "the row is at the link before the caller's"),
    "take_webhook_check": Move(
        frozenset({Status.SUBMITTED, Status.COLLECTING}), None, "no webhook check within the interval"
    ),
    "record_check_failure": Move(frozenset({Status.SUBMITTED}), None),
    "claim_collect": Move(
        frozenset({Status.SUBMITTED, Status.COLLECTING}), Status.COLLECTING, "a COLLECTING lease ran out"
    ),
    "release_collect": Move(frozenset({Status.COLLECTING}), Status.SUBMITTED, "caller holds the lease"),
    "wait_collect": Move(
        frozenset({Status.SUBMITTED, Status.COLLECTING}), Status.WAITING, "COLLECTING: its lease ran out"
    ),
    "resume_collect": Move(frozenset({Status.WAITING}), Status.SUBMITTED, "it waits in the collect step"),
    "finish": Move(
        frozenset({Status.SUBMITTED, Status.COLLECTING}),
        COLLECT_TERMINAL,
        "COLLECTING: the caller holds the lease, or (no caller lease) the lease ran out",
    ),
    # every end, ingest's and collect's
    "claim_publish": Move(TERMINAL, None, "event unpublished and its publish lease ran out"),
    "mark_published": Move(TERMINAL, None, "event unpublished"),
    # operations
    "reopen": Move(
        TERMINAL,
        Status.RECEIVED,
        "the row unchanged since the operator read it, its event not being published right now;"
        " a SUBMIT_UNCONFIRMED row only when forced",
    ),
}
