"""Webhook deliveries: one terminal event per job, signed like Standard Webhooks, retried a bounded number
of times, sent from one background thread once the job's terminal time has passed.

The hosted service does not document its signature. The emulator's choice: headers `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the
UTF-8 bytes of `webhookSecret` exactly as submitted (no `whsec_` decoding). Without a secret, no signature.
"""

import base64
import hashlib
import heapq
import hmac
import ipaddress
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from lassodrop_local.emulator.ids import new_id
from lassodrop_local.emulator.jobs import Job
from lassodrop_local.emulator.state import EmulatorState, WebhookDelivery

logger = logging.getLogger(__name__)
_TIMEOUT_SECONDS = 5.0
# Never through a proxy from the environment: receivers are local.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookDispatcher:
    """Holds jobs until their terminal time, then delivers their event from its own thread."""

    def __init__(
        self,
        state: EmulatorState,
        event_for: Callable[[Job], dict[str, Any]],
        allow_remote: bool = False,
    ) -> None:
        self._state, self._event_for, self._allow_remote = state, event_for, allow_remote
        self._due: list[tuple[float, int, str]] = []
        self._wakeup = threading.Condition()
        self._stopping = threading.Event()
        self._sequence = 0
        self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._wakeup:
            self._wakeup.notify_all()
        self._thread.join(timeout=_TIMEOUT_SECONDS + 1)

    def schedule(self, job: Job) -> None:
        with self._wakeup:
            self._sequence += 1
            heapq.heappush(self._due, (job.finished_at, self._sequence, job.request_id))
            self._wakeup.notify_all()

    def _run(self) -> None:
        while not self._stopping.is_set():
            request_id = self._next_due()
            job = self._state.get_job(request_id) if request_id else None
            if job is not None and job.webhook_url:
                self._deliver(job, job.webhook_url)

    def _next_due(self) -> str | None:
        with self._wakeup:
            # Checked under the lock: a stop() that landed after the loop's own check would otherwise
            # notify nobody, and this wait would only end with the process.
            if self._stopping.is_set():
                return None
            if not self._due:
                self._wakeup.wait()
                return None
            due, _, request_id = self._due[0]
            delay = due - time.time()
            if delay > 0:
                self._wakeup.wait(delay)
                return None
            heapq.heappop(self._due)
            return request_id

    def _deliver(self, job: Job, url: str) -> None:
        body = json.dumps(self._event_for(job)).encode()
        if not (self._allow_remote or is_loopback_url(url)):
            self._record(job, url, 1, {}, body, None, "not delivered: only loopback receivers are allowed")
            return
        message_id = new_id("msg")
        attempts = max(1, int(self._state.timings.webhook_attempts))
        for attempt in range(1, attempts + 1):
            headers = self._headers(job, message_id, body)
            status, error = _post(url, headers, body)
            self._record(job, url, attempt, headers, body, status, error)
            if status is not None and 200 <= status < 300:
                return
            if attempt < attempts and self._stopping.wait(self._state.timings.webhook_retry_seconds):
                return

    def _headers(self, job: Job, message_id: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {"content-type": "application/json", "webhook-id": message_id}
        headers["webhook-timestamp"] = timestamp
        if job.webhook_secret:
            headers["webhook-signature"] = sign(job.webhook_secret, message_id, timestamp, body)
        return headers

    def _record(
        self,
        job: Job,
        url: str,
        attempt: int,
        headers: dict[str, str],
        body: bytes,
        status: int | None,
        error: str | None,
    ) -> None:
        logger.info("webhook delivery request_id=%s attempt=%d status=%s", job.request_id, attempt, status)
        delivery = WebhookDelivery(job.request_id, url, attempt, headers, body.decode(), status, error)
        self._state.record_delivery(delivery)


def _post(url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str | None]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) checked at submit
    try:
        with _OPENER.open(request, timeout=_TIMEOUT_SECONDS) as answer:
            return answer.status, None
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None
    except (urllib.error.URLError, OSError) as exc:
        return None, str(exc)
