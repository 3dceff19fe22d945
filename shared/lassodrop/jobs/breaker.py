"""The AudioLasso breaker: one item of the jobs table, shared by every ingest and collect worker.

It is its own kind of item (`kind = "breaker"`, key `breaker#audiolasso`) with its own small typed model, so
the job row's model and its rule against unknown attributes stay as they are. It has no request id or source
URI, so neither index ever lists it. Every change is one conditional UpdateItem (the functions may not
PutItem), so of two workers meeting the same trouble exactly one opens it, and of two successful probes
exactly one closes it: only that one publishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from lassodrop.jobs.expression import UpdateExpression
from lassodrop.jobs.row import Step, Waiting, WaitingFor, storable
from lassodrop.timestamps import iso

BREAKER_ID = "breaker#audiolasso"


class BreakerState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Breaker:
    """The breaker as stored. Times are epoch seconds; `step` is the side that met the trouble."""

    object_id: str = BREAKER_ID
    kind: str = "breaker"
    state: BreakerState = BreakerState.CLOSED
    waiting_for: WaitingFor | None = None
    message: str | None = None
    step: Step | None = None
    opened_at: int | None = None
    probe_until: int | None = None
    files_waiting: int = 0
    updated_at: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> Breaker:
        if not item:
            return cls()
        plain = {name: _plain(value) for name, value in item.items() if name in BREAKER_ATTRIBUTES}
        plain["state"] = BreakerState(plain.get("state", BreakerState.CLOSED))
        for name, kind in (("waiting_for", WaitingFor), ("step", Step)):
            if plain.get(name) is not None:
                plain[name] = kind(plain[name])
        return cls(**plain)

    def holds(self, step: Step) -> bool:
        """Whether workers of `step` must not call AudioLasso now, beyond the one probe.

        A key that is refused fails every call, so it holds both sides. Credits and scopes are only known to
        be missing for the side that met them (collect's reads spend no credit), so they hold that side only:
        holding collect for credits would only delay results that are already paid for.
        """
        if self.state is not BreakerState.OPEN:
            return False
        return step is self.step or self.waiting_for is WaitingFor.API_KEY


BREAKER_ATTRIBUTES = frozenset(f.name for f in fields(Breaker))


class BreakerStore:
    """The breaker's reads and conditional writes (`table` is the jobs table's boto3 Table resource)."""

    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def read(self) -> Breaker:
        item = self._table.get_item(Key={"object_id": BREAKER_ID}, ConsistentRead=True).get("Item")
        return Breaker.from_item(item)

    def open(self, waiting: Waiting, step: Step, probe_seconds: int) -> Breaker | None:
        """Closed (or never written) -> open; None if it was open already. The opener publishes.

        The probe lease starts taken: the opener has just made the call that failed, so the next one is due
        `probe_seconds` from now.
        """
        now = int(self._clock())
        return self._update(
            {
                "kind": "breaker",
                "state": BreakerState.OPEN,
                "waiting_for": waiting.waiting_for,
                "message": waiting.message,
                "step": step,
                "opened_at": now,
                "probe_until": now + probe_seconds,
                "files_waiting": 1,
            },
            condition="attribute_not_exists(object_id) OR #state = :closed",
            values={":closed": BreakerState.CLOSED},
        )

    def take_probe(self, probe_seconds: int) -> bool:
        """Take the one probe lease of an open breaker, if its last probe is at least `probe_seconds` old.

        A probe that fails leaves the lease in place, so the next probe is one lease later: while the
        breaker is open, AudioLasso gets about one call per lease, however many files wait.
        """
        now = int(self._clock())
        taken = self._update(
            {"probe_until": now + probe_seconds},
            condition="#state = :open AND probe_until < :now",
            values={":open": BreakerState.OPEN, ":now": now},
        )
        return taken is not None

    def count_waiting(self) -> None:
        """One more file started waiting while the breaker is open (nothing to count once it closed)."""
        self._update(
            {},
            add={"files_waiting": 1},
            condition="#state = :open",
            values={":open": BreakerState.OPEN},
        )

    def close(self) -> Breaker | None:
        """Open -> closed after a probe succeeded; returns the breaker as it was, None if already closed."""
        return self._update(
            {"state": BreakerState.CLOSED},
            remove=["probe_until"],
            condition="#state = :open",
            values={":open": BreakerState.OPEN},
            returns="ALL_OLD",
        )

    def _update(
        self,
        sets: Mapping[str, Any],
        *,
        condition: str,
        values: Mapping[str, Any],
        add: Mapping[str, int] | None = None,
        remove: list[str] | None = None,
        returns: str = "ALL_NEW",
    ) -> Breaker | None:
        expression = UpdateExpression(BREAKER_ATTRIBUTES)
        expression.set_all({**sets, "updated_at": iso(self._clock())})
        expression.increment(add or {})
        expression.remove(remove or [])
        try:
            response = self._table.update_item(
                Key={"object_id": BREAKER_ID},
                UpdateExpression=expression.text(),
                ConditionExpression=condition,
                ExpressionAttributeNames={**expression.names, "#state": "state"},
                ExpressionAttributeValues={
                    **expression.values,
                    **{name: storable(value) for name, value in values.items()},
                },
                ReturnValues=returns,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return Breaker.from_item(response.get("Attributes"))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    return value
