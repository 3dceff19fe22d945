"""What the functions send each other: the check message on the CheckQueue, defined once for every sender.

Ingest queues the first check after a submit, collect re-queues its own polls, and the webhook queues an
immediate check; collect reads them all. `CheckQueue` is the one way onto that queue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lassodrop.runtime import read_int

# SQS refuses a DelaySeconds above 15 minutes.
SQS_MAX_DELAY_SECONDS = 900
# At most one webhook-caused status read per job in this many seconds (WEBHOOK_CHECK_INTERVAL_SECONDS): the
# webhook stops enqueueing and collect stops reading once one was made. The poll chain is not limited by it.
WEBHOOK_CHECK_INTERVAL_SECONDS = 60


def read_webhook_check_interval(env: Mapping[str, str]) -> int:
    """The interval as the webhook and collect functions both read it (they must agree)."""
    return read_int(
        env, "WEBHOOK_CHECK_INTERVAL_SECONDS", default=WEBHOOK_CHECK_INTERVAL_SECONDS, low=1, high=86_400
    )


def read_park_delay(env: Mapping[str, str]) -> int:
    """PARK_DELAY_SECONDS: how long a file waiting for the AudioLasso account stays parked between looks
    (lassodrop.waiting); also the breaker's probe lease. SQS delays a message at most 900 s."""
    return read_int(env, "PARK_DELAY_SECONDS", default=60, low=1, high=SQS_MAX_DELAY_SECONDS)


class CheckReason(StrEnum):
    FIRST_CHECK = "first-check"  # ingest, right after the submit
    POLL = "poll"  # collect, the next link of the job's polling chain
    WEBHOOK = "webhook"  # the webhook: a hint that the job ended; it starts no chain of its own


@dataclass(frozen=True)
class CheckMessage:
    """Look at this job's status now. `request_id` is informative: the row is the source of truth.

    `link` numbers the messages of the job's one polling chain (the first check is 0, each poll one more), so
    collect can tell a second copy of a link from the chain itself and drop it; a webhook's has none.
    """

    object_id: str
    request_id: str | None
    reason: str
    link: int | None = None

    @classmethod
    def from_body(cls, body: str) -> CheckMessage:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("object_id"), str):
            raise ValueError("check message needs a string object_id")
        request_id = data.get("request_id")
        link = data.get("link")
        return cls(
            data["object_id"],
            request_id if isinstance(request_id, str) else None,
            str(data.get("reason")),
            link if isinstance(link, int) and not isinstance(link, bool) and link >= 0 else None,
        )

    def to_body(self) -> str:
        body: dict[str, object] = {"object_id": self.object_id, "request_id": self.request_id}
        body |= {"reason": self.reason} | ({"link": self.link} if self.link is not None else {})
        return json.dumps(body)


class CheckQueue:
    """Sends check messages to the CheckQueue (`sqs` is a boto3 SQS client)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def send(self, message: CheckMessage, delay_seconds: int = 0) -> None:
        if not 0 <= delay_seconds <= SQS_MAX_DELAY_SECONDS:
            raise ValueError(f"a check delay must be 0 to {SQS_MAX_DELAY_SECONDS} s, got {delay_seconds}")
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=message.to_body(), DelaySeconds=delay_seconds
        )
