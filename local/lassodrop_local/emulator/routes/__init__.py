"""The route table: every path the emulator answers, the scope it needs, and the function that answers it.

A route function takes the request (a `handler.Handler`) and the parts its path captured, and returns a
`Reply` to send as JSON, or None when it wrote its own answer (a stream, a file, a dropped connection).
Every route first goes through the same steps in `run`: injected latency, injected failure, the key's scope.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lassodrop_local.emulator.api import Reply
from lassodrop_local.emulator.errors import ApiError, not_found
from lassodrop_local.emulator.routes import discovery, files, outputs, queue
from lassodrop_local.emulator.state import EmulatorState, InjectedFailure

if TYPE_CHECKING:
    from lassodrop_local.emulator.handler import Handler

_ID = r"([A-Za-z0-9_-]+)"
_JOB = rf"/v1/queue/requests/{_ID}"
_SEPARATE = "audio:separate"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # a regular expression matched against the whole path; its groups go to `answer`
    scope: str | None
    answer: Callable[..., Reply | None]
    auth: bool = True


TABLE = (
    Route("openapi", "GET", r"/v1/openapi\.json", None, discovery.openapi, auth=False),
    Route("models", "GET", r"/v1/models", "models:read", discovery.models),
    Route("create_file", "POST", r"/v1/files", "files:write", files.create_file),
    Route("get_file", "GET", rf"/v1/files/{_ID}", "files:read", files.get_file),
    Route("submit", "POST", r"/v1/queue/audio/separate", _SEPARATE, queue.submit),
    Route("status", "GET", rf"{_JOB}/status", _SEPARATE, queue.status),
    Route("stream", "GET", rf"{_JOB}/status/stream", _SEPARATE, queue.stream),
    Route("result", "GET", rf"{_JOB}/result", _SEPARATE, queue.result),
    # Signed URLs carry their own signature; an Authorization header there is ignored (but recorded).
    Route("upload", "PUT", rf"/uploads/{_ID}", None, files.upload, auth=False),
    Route("output", "GET", rf"/outputs/{_ID}/(target|residual)\.wav", None, outputs.output, auth=False),
)


def find(method: str, path: str) -> tuple[Route, tuple[str, ...]]:
    """The route for `method` and `path`, with what the path captured; 405 or 404 when there is none."""
    allowed = False
    for route in TABLE:
        # The re module caches compiled patterns, so the table can stay plain strings.
        match = re.fullmatch(route.path, path)
        if match and route.method == method:
            return route, match.groups()
        allowed = allowed or bool(match)
    if allowed:
        raise ApiError(405, "INVALID_REQUEST", f"{method} is not allowed here.")
    raise not_found("Route")


def run(request: "Handler", route: Route, params: tuple[str, ...]) -> Reply | None:
    """Answer one call: injected latency and failure first, then the key's scope, then the route itself."""
    state = request.app.state
    delay = state.latency_for(route.name)
    if delay > 0:
        time.sleep(delay)
    failure = state.take_failure(route.name)
    if failure and not failure.process:
        raise _injected(failure)
    if route.auth:
        _authorize(request.headers.get("Authorization", ""), state, route.scope)
    reply = route.answer(request, *params)
    # A streamed answer is already on the wire: `process` failures only replace JSON answers.
    if failure and reply is not None:
        raise _injected(failure)
    return reply


def _authorize(header: str, state: EmulatorState, scope: str | None) -> None:
    key = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    scopes = state.scopes_of(key) if key else None
    if scopes is None:
        raise ApiError(401, "UNAUTHENTICATED", "Missing or invalid API key.")
    if scope is not None and scope not in scopes:
        raise ApiError(403, "PERMISSION_DENIED", f"This API key lacks the {scope} scope.")


def _injected(failure: InjectedFailure) -> ApiError:
    headers = {} if failure.retry_after is None else {"Retry-After": str(int(failure.retry_after))}
    return ApiError(failure.status, failure.code, failure.message, headers=headers)
