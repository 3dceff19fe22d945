"""Admin routes under /_emulator/ (no auth): the state's controls and inspection, for another process.

POST bodies are JSON objects whose keys are the keyword arguments of the `EmulatorState` method of the same
name, e.g. POST /_emulator/fail_next {"route": "submit", "status": 503, "count": 2}. Among them:
- credits {"remaining": 0} runs the account out (submits answer 402 INSUFFICIENT_CREDITS), {"remaining": 3}
  allows three more submits, {"remaining": null} is unlimited again; add_credits {"count": 5} tops it up.
- revoke_key / restore_key {"key": ...}; set_scopes {"key": ..., "scopes": [...]} (403 without a scope).
- offline {"seconds": 2} (EmulatorServer.go_offline): the answer arrives, and from then on connecting is
  refused until the server comes back by itself, on the same port. Only the timed form exists here, since
  nothing reaches an offline server to bring it back.
"""

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lassodrop_local.emulator.state import ALL_SCOPES, EmulatorState

if TYPE_CHECKING:
    from lassodrop_local.emulator.server import EmulatorServer

_Action = Callable[["EmulatorServer", dict[str, Any]], object]

_ACTIONS: dict[str, _Action] = {
    "reset": lambda app, _: app.state.reset(),
    "fail_next": lambda app, body: app.state.fail_next(**body),
    "fail_next_jobs": lambda app, body: app.state.fail_next_jobs(**body),
    "drop_upload_after": lambda app, body: app.state.drop_upload_after(**body),
    "drop_output_after": lambda app, body: app.state.drop_output_after(**body),
    "latency": lambda app, body: app.state.set_latency(**body),
    "expire_upload_urls": lambda app, body: app.state.expire_upload_urls(**body),
    "expire_output_urls": lambda app, body: app.state.expire_output_urls(**body),
    "timings": lambda app, body: app.state.set_timings(**body),
    "keys": lambda app, body: app.state.add_key(body["key"], set(body.get("scopes", ALL_SCOPES))),
    "revoke_key": lambda app, body: app.state.revoke_key(body["key"]),
    "restore_key": lambda app, body: app.state.restore_key(body["key"]),
    "set_scopes": lambda app, body: app.state.set_scopes(body["key"], body["scopes"]),
    "credits": lambda app, body: app.state.set_credits(**body),
    "add_credits": lambda app, body: app.state.add_credits(**body),
    # Timed only: an untimed offline could never be undone from another process.
    "offline": lambda app, body: app.go_offline(float(body["seconds"])),
}

_VIEWS: dict[str, Callable[[EmulatorState], object]] = {
    "state": lambda state: state.snapshot(),
    "uploads": lambda state: [dataclasses.asdict(record) for record in state.uploads],
    "submissions": lambda state: state.submissions,
    "webhook_deliveries": lambda state: [dataclasses.asdict(record) for record in state.webhook_deliveries],
    "requests": lambda state: [dataclasses.asdict(record) for record in state.requests],
}


def handle(app: "EmulatorServer", method: str, name: str, body: Any) -> tuple[int, object]:
    """Run one admin call; answers (status, JSON). Bad arguments answer 400 with the reason."""
    if method == "GET" and name in _VIEWS:
        return 200, _VIEWS[name](app.state)
    if method != "POST" or name not in _ACTIONS:
        return 404, {"error": {"code": "NOT_FOUND", "message": f"No admin route {method} {name}."}}
    if not isinstance(body, dict):
        return 400, {"error": {"code": "INVALID_REQUEST", "message": "The body must be a JSON object."}}
    try:
        _ACTIONS[name](app, body)
    except (TypeError, ValueError, KeyError) as exc:
        return 400, {"error": {"code": "INVALID_REQUEST", "message": str(exc)}}
    return 200, {"ok": True}
