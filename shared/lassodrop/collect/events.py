"""EventBridge events for downstream workflows: `Separation Completed` and `Separation Failed`."""

from __future__ import annotations

import json
from typing import Any

EVENT_SOURCE = "lassodrop"
COMPLETED = "Separation Completed"
FAILED = "Separation Failed"


class PublishError(Exception):
    """EventBridge accepted the call but not the entry (retryable: the check is redelivered)."""


class EventPublisher:
    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._events = events_client
        self._bus = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> str:
        """Put one event; returns its EventBridge id. PutEvents reports entry failures in the body."""
        response = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, ensure_ascii=False),
                    "EventBusName": self._bus,
                }
            ]
        )
        entry = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            raise PublishError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
        return str(entry["EventId"])


def detail_type_for(status: str) -> str:
    return COMPLETED if status == "COMPLETED" else FAILED
