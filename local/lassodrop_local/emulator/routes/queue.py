"""Separation jobs: submit one, follow it (status, or server-sent events), read its result."""

import json
import time
from typing import TYPE_CHECKING

from lassodrop_local.emulator.api import Reply
from lassodrop_local.emulator.jobs import TERMINAL

if TYPE_CHECKING:
    from lassodrop_local.emulator.handler import Handler


def submit(request: "Handler") -> Reply:
    reply = request.app.api.submit(request.json_body())
    request.app.schedule_webhook(str(reply.body["request_id"]))
    return reply


def status(request: "Handler", request_id: str) -> Reply:
    return request.app.api.status(request_id, request.flag("logs"))


def result(request: "Handler", request_id: str) -> Reply:
    return request.app.api.result(request_id)


def stream(request: "Handler", request_id: str) -> None:
    """Server-sent events: one `status` event per change, closed at a terminal status (or the bound)."""
    app = request.app
    api, job, logs = app.api, app.api.job(request_id), request.flag("logs")
    request.open_stream("text/event-stream")
    deadline, last = time.time() + app.state.timings.stream_max_seconds, None
    while True:
        now = time.time()
        body = api.status_body(job, now, logs)
        if body["status"] != last:
            request.write_now(f"event: status\ndata: {json.dumps(body)}\n\n".encode())
            last = body["status"]
        if last in TERMINAL or now >= deadline:
            return
        next_change = job.started_at if last == "IN_QUEUE" else job.finished_at
        if app.stopping.wait(max(0.005, min(next_change, deadline) - now)):
            return
