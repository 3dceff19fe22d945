"""The job row's states and every move between them: the one place to read the row's life.

```
 (no row) ──claim_upload──▶ UPLOADING ──mark_submitted──▶ SUBMITTED ──claim_collect──▶ COLLECTING
 RECEIVED ──claim_upload──▶   │ ▲                          │ ▲   record_check          │   │
                              │ └ record_details,          │ └────release_collect──────┘   │
                              │   mark_submit_started,     │                               │
                              │   release_lease, and       └────────finish──┐   ┌──finish──┘
                              │   claim_upload once the                     ▼   ▼
                              │   lease ran out (no submit          COMPLETED, FAILED,
                              │   started)                          TIMED_OUT or EXPIRED
                              ├─mark_rejected──────────▶ REJECTED
                              ├─mark_failed────────────▶ FAILED
                              └─mark_submit_unconfirmed▶ FAILED (SUBMIT_UNCONFIRMED)
 mark_check_enqueued: on SUBMITTED and later, status unchanged.
 claim_publish, mark_published: on every terminal status (whoever wrote it), status unchanged.
 reopen (an operator's retry): any terminal status ──▶ RECEIVED, the ended attempt kept in `history`.
```

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
        frozenset({Status.RECEIVED, Status.UPLOADING}),
        Status.UPLOADING,
        "or no row yet; an UPLOADING row only once its lease ran out and no submit was started",
    ),
    "record_details": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "mark_submit_started": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "release_lease": Move(_UPLOADING, None, "caller holds the upload lease (attempt)"),
    "mark_submit_unconfirmed": Move(
        _UPLOADING, Status.FAILED, "caller's attempt; a submit was started and no request id recorded"
    ),
    "mark_submitted": Move(_UPLOADING, Status.SUBMITTED),
    "mark_check_enqueued": Move(SUBMITTED_OR_LATER, None),
    "mark_rejected": Move(frozenset({Status.RECEIVED, Status.UPLOADING}), Status.REJECTED),
    "mark_failed": Move(frozenset({Status.RECEIVED, Status.UPLOADING}), Status.FAILED),
    # collect
    "record_check": Move(frozenset({Status.SUBMITTED}), None),
    "claim_collect": Move(
        frozenset({Status.SUBMITTED, Status.COLLECTING}), Status.COLLECTING, "a COLLECTING lease ran out"
    ),
    "release_collect": Move(frozenset({Status.COLLECTING}), Status.SUBMITTED, "caller holds the lease"),
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
