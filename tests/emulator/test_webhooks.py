"""Webhook deliveries: documented bodies, Standard-Webhooks signatures, bounded retries."""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lassodrop_local.emulator import EmulatorServer
from lassodrop_local.emulator.state import EmulatorState, Timings
from lassodrop_local.emulator.webhooks import WebhookDispatcher
from tests.emulator.helpers import submit, wait_until

PUBLIC = "https://cdn.example.com/a.wav"


@dataclass
class Receiver:
    """A webhook endpoint on loopback that records what it got and answers from a script of statuses."""

    url: str
    answers: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.answers.pop(0) if state.answers else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def test_completed_job_delivers_a_signed_completed_event(
    emulator: EmulatorServer, api_key: str, receiver: Receiver
) -> None:
    body = {
        "input": {"audio_url": PUBLIC, "prompt": "p"},
        "webhookUrl": receiver.url,
        "webhookSecret": "s3cret",
    }
    request_id = submit(emulator, api_key, body).json()["request_id"]

    wait_until(lambda: receiver.received)

    [(headers, raw)] = receiver.received
    event = json.loads(raw)
    assert event["type"] == "audio.separate.completed"
    assert event["request_id"] == request_id
    assert event["status"] == "COMPLETED"
    assert event["model"] == "audio/separate"
    assert set(event["data"]) == {"target", "residual"}
    assert event["data"]["target"]["url"].startswith(f"{emulator.base_url}/outputs/{request_id}/target.wav?")
    assert headers["webhook-signature"] == expected_signature("s3cret", headers, raw)
    assert headers["webhook-id"].startswith("msg_")


def test_failed_job_delivers_a_failed_event_with_the_error(
    emulator: EmulatorServer, api_key: str, receiver: Receiver
) -> None:
    body = {
        "input": {"audio_url": PUBLIC, "prompt": "[fail]"},
        "webhookUrl": receiver.url,
        "webhookSecret": "k",
    }
    submit(emulator, api_key, body)

    wait_until(lambda: receiver.received)

    event = json.loads(receiver.received[0][1])
    assert event["type"] == "audio.separate.failed"
    assert event["status"] == "FAILED"
    assert event["error"]["code"] == "MODEL_FAILED"
    assert "data" not in event


def test_non_2xx_answers_are_retried_until_acknowledged(
    emulator: EmulatorServer, api_key: str, receiver: Receiver
) -> None:
    receiver.answers = [500, 503]
    body = {"input": {"audio_url": PUBLIC, "prompt": "p"}, "webhookUrl": receiver.url, "webhookSecret": "k"}
    submit(emulator, api_key, body)

    wait_until(lambda: len(emulator.state.webhook_deliveries) == 3)

    assert [d.status for d in emulator.state.webhook_deliveries] == [500, 503, 204]
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 1


def test_retries_stop_after_the_configured_attempts(
    emulator: EmulatorServer, api_key: str, receiver: Receiver
) -> None:
    emulator.state.set_timings(webhook_attempts=2)
    receiver.answers = [500, 500, 500, 500]
    submit(emulator, api_key, {"input": {"audio_url": PUBLIC, "prompt": "p"}, "webhookUrl": receiver.url})

    wait_until(lambda: len(emulator.state.webhook_deliveries) == 2)
    time.sleep(0.3)  # several retry delays: room for a third attempt that must not come

    assert [d.attempt for d in emulator.state.webhook_deliveries] == [1, 2]
    assert len(receiver.received) == 2
    assert "webhook-signature" not in receiver.received[0][0]


def test_non_loopback_receivers_are_not_called(emulator: EmulatorServer, api_key: str) -> None:
    body = {"input": {"audio_url": PUBLIC, "prompt": "p"}, "webhookUrl": "https://hooks.example.com/x"}
    submit(emulator, api_key, body)

    [delivery] = wait_until(lambda: emulator.state.webhook_deliveries)

    assert delivery.status is None
    assert delivery.error is not None
    assert "loopback" in delivery.error


def test_dispatcher_stops_even_when_stop_lands_just_after_its_loop_checked(tmp_path) -> None:
    # Given an idle dispatcher whose stop() arrives between its loop's check and its wait
    dispatcher = WebhookDispatcher(EmulatorState({}, Timings(), tmp_path), lambda job: {})

    class StopRightAfterTheCheck(threading.Event):
        checks = 0

        def is_set(self) -> bool:
            seen = super().is_set()
            StopRightAfterTheCheck.checks += 1
            if StopRightAfterTheCheck.checks == 1:
                self.set()
                with dispatcher._wakeup:
                    dispatcher._wakeup.notify_all()
            return seen

    dispatcher._stopping = StopRightAfterTheCheck()

    # When it runs
    dispatcher.start()
    dispatcher._thread.join(timeout=2)

    # Then its thread ended instead of waiting for a wake-up that already went by
    assert not dispatcher._thread.is_alive()
