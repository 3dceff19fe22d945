"""Admin routes under /_emulator/ (no auth): the state's controls and inspection, for another process.

POST bodies are JSON objects whose keys are the keyword arguments of the `EmulatorState` method of the same
name, e.g. POST /_emulator/fail_next {"route": "submit", "status": 503, "count": 2}.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from lassodrop_local.emulator.state import ALL_SCOPES, EmulatorState

_Action = Callable[[EmulatorState, dict[str, Any]], object]

_ACTIONS: dict[str, _Action] = {
    "reset": lambda state, _: state.reset(),
    "fail_next": lambda state, body: state.fail_next(**body),
    "fail_next_jobs": lambda state, body: state.fail_next_jobs(**body),
    "drop_upload_after": lambda state, body: state.drop_upload_after(**body),
    "drop_output_after": lambda state, body: state.drop_output_after(**body),
    "latency": lambda state, body: state.set_latency(**body),
    "expire_upload_urls": lambda state, body: state.expire_upload_urls(**body),
    "expire_output_urls": lambda state, body: state.expire_output_urls(**body),
    "timings": lambda state, body: state.set_timings(**body),
    "keys": lambda state, body: state.add_key(body["key"], set(body.get("scopes", ALL_SCOPES))),
    "revoke_key": lambda state, body: state.revoke_key(body["key"]),
}

_VIEWS: dict[str, Callable[[EmulatorState], object]] = {
    "state": lambda state: state.snapshot(),
    "uploads": lambda state: [dataclasses.asdict(record) for record in state.uploads],
    "submissions": lambda state: state.submissions,
    "webhook_deliveries": lambda state: [dataclasses.asdict(record) for record in state.webhook_deliveries],
    "requests": lambda state: [dataclasses.asdict(record) for record in state.requests],
}


def handle(state: EmulatorState, method: str, name: str, body: Any) -> tuple[int, object]:
    """Run one admin call; answers (status, JSON). Bad arguments answer 400 with the reason."""
    if method == "GET" and name in _VIEWS:
        return 200, _VIEWS[name](state)
    if method != "POST" or name not in _ACTIONS:
        return 404, {"error": {"code": "NOT_FOUND", "message": f"No admin route {method} {name}."}}
    if not isinstance(body, dict):
        return 400, {"error": {"code": "INVALID_REQUEST", "message": "The body must be a JSON object."}}
    try:
        _ACTIONS[name](state, body)
    except (TypeError, ValueError, KeyError) as exc:
        return 400, {"error": {"code": "INVALID_REQUEST", "message": str(exc)}}
    return 200, {"ok": True}
