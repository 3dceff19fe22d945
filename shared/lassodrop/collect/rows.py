"""The job-row transitions collect makes, on top of the generic conditional `JobStore.transition`.

Every write names the status it expects to find, so duplicates, a webhook racing a poll or a late worker can
never move a finished job backwards; writes under the collect lease are fenced on its owner (`transition`'s
`fence`, shared with ingest). The transitions themselves are collect's own and stay here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lassodrop.jobs import Job, JobStore, Status

# Terminal statuses collect writes (and so owns the event for); REJECTED belongs to ingest.
COLLECT_TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.TIMED_OUT, Status.EXPIRED})
# How long the writer of a terminal status has to publish its event before a redelivered check may.
PUBLISH_LEASE_SECONDS = 60


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class CollectRows:
    """Collect's conditional updates; `store` is the shared JobStore."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    def get(self, object_id: str) -> Job | None:
        return self._store.get(object_id)

    def record_check(self, object_id: str, checks: int, delay: int) -> bool:
        sets = {"checks": checks, "next_check_delay": delay}
        return self._store.transition(object_id, expected=[Status.SUBMITTED], sets=sets) is not None

    def claim(self, object_id: str, owner: str, now: datetime, lease_seconds: int) -> bool:
        """SUBMITTED (or COLLECTING whose lease ran out) -> COLLECTING, leased to `owner`."""
        claimed = self._store.transition(
            object_id,
            expected=[Status.SUBMITTED, Status.COLLECTING],
            to=Status.COLLECTING,
            sets={"lease_owner": owner, "lease_until": epoch(now) + lease_seconds},
            condition="#status = :submitted OR lease_until < :now",
            values={":submitted": Status.SUBMITTED, ":now": epoch(now)},
        )
        return claimed is not None

    def release(self, object_id: str, owner: str) -> bool:
        """COLLECTING -> SUBMITTED after a retryable failure, so the redelivered check can claim at once."""
        released = self._store.transition(
            object_id,
            expected=[Status.COLLECTING],
            to=Status.SUBMITTED,
            remove=["lease_owner", "lease_until"],
            fence={"lease_owner": owner},
        )
        return released is not None

    def finish(
        self, object_id: str, status: Status, fields: Mapping[str, Any], now: datetime, *, owner: str | None
    ) -> Job | None:
        """Write a terminal status with `fields`; returns the new row, or None when another writer got there.

        Without `owner` the row must still be SUBMITTED, or COLLECTING under a lease that ran out (its worker
        died mid-copy: nobody else would ever end the job); with it, COLLECTING under our lease. The row is
        left `event_published = false` with a short publish lease held by the writer (see claim_publish).
        """
        sets = {**fields, "event_published": False, "publish_lease_until": epoch(now) + PUBLISH_LEASE_SECONDS}
        if owner is None:
            return self._store.transition(
                object_id,
                expected=[Status.SUBMITTED, Status.COLLECTING],
                to=status,
                sets=sets,
                remove=["lease_owner", "lease_until"],
                condition="#status = :submitted OR lease_until < :now",
                values={":submitted": Status.SUBMITTED, ":now": epoch(now)},
            )
        return self._store.transition(
            object_id,
            expected=[Status.COLLECTING],
            to=status,
            sets=sets,
            remove=["lease_owner", "lease_until"],
            fence={"lease_owner": owner},
        )

    def claim_publish(self, object_id: str, now: datetime) -> Job | None:
        """Take over publishing a terminal row's event that its writer never confirmed (lease ran out)."""
        return self._store.transition(
            object_id,
            expected=COLLECT_TERMINAL,
            sets={"publish_lease_until": epoch(now) + PUBLISH_LEASE_SECONDS},
            condition="event_published = :false AND publish_lease_until < :now",
            values={":false": False, ":now": epoch(now)},
        )

    def mark_published(self, object_id: str, event_id: str) -> None:
        self._store.transition(
            object_id,
            expected=COLLECT_TERMINAL,
            sets={"event_published": True, "event_id": event_id},
            remove=["publish_lease_until"],
            condition="event_published = :false",
            values={":false": False},
        )
