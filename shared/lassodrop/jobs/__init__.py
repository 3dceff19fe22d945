"""The job row: its states and moves (`states`), its typed model (`row`) and its store (`store`)."""

from lassodrop.jobs.row import (
    SUBMIT_UNCONFIRMED,
    Job,
    JobError,
    ObjectDetails,
    PastAttempt,
    object_id_for,
    source_uri_for,
)
from lassodrop.jobs.states import COLLECT_TERMINAL, MOVES, SUBMITTED_OR_LATER, TERMINAL, Status
from lassodrop.jobs.store import (
    PUBLISH_LEASE_SECONDS,
    REQUEST_ID_INDEX,
    SOURCE_INDEX,
    STATUS_INDEX,
    Claim,
    ClaimResult,
    ConcurrentChangeError,
    Ending,
    JobStore,
    LeaseHeldError,
)

__all__ = [
    "COLLECT_TERMINAL",
    "MOVES",
    "PUBLISH_LEASE_SECONDS",
    "REQUEST_ID_INDEX",
    "SOURCE_INDEX",
    "STATUS_INDEX",
    "SUBMITTED_OR_LATER",
    "SUBMIT_UNCONFIRMED",
    "TERMINAL",
    "Claim",
    "ClaimResult",
    "ConcurrentChangeError",
    "Ending",
    "Job",
    "JobError",
    "JobStore",
    "LeaseHeldError",
    "ObjectDetails",
    "PastAttempt",
    "Status",
    "object_id_for",
    "source_uri_for",
]
