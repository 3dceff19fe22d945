"""Being down: an offline emulator refuses connections and comes back on the same URL with its state kept."""

import socket
import threading
import time

import pytest
import requests

from lassodrop_local.emulator import EmulatorServer
from tests.emulator.helpers import auth, submit, wait_until

JOB = {"input": {"audio_url": "https://cdn.example.com/a.wav", "prompt": "isolate the lead vocal"}}


def _refused(exc: BaseException) -> bool:
    """Whether a client error was caused, somewhere down its chain, by a refused TCP connection."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _connect_is_refused(emulator: EmulatorServer) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _models(emulator: EmulatorServer, key: str) -> requests.Response:
    return requests.get(f"{emulator.base_url}/v1/models", headers=auth(key), timeout=5)


def test_offline_refuses_connections_then_answers_at_the_same_url(
    emulator: EmulatorServer, api_key: str
) -> None:
    base_url = emulator.base_url
    submitted = submit(emulator, api_key, JOB).json()
    with requests.Session() as session:
        session.headers.update(auth(api_key))
        assert session.get(f"{base_url}/v1/models", timeout=5).status_code == 200

        emulator.go_offline()
        with pytest.raises(requests.ConnectionError) as while_offline:
            session.get(f"{base_url}/v1/models", timeout=5)
        refused_socket = _connect_is_refused(emulator)
        emulator.go_online()
        back = session.get(f"{base_url}/v1/models", timeout=5)
        status = session.get(submitted["status_url"], timeout=5)

    assert _refused(while_offline.value)
    assert refused_socket
    assert emulator.base_url == base_url
    assert back.status_code == 200
    assert status.json()["request_id"] == submitted["request_id"]
    assert len(emulator.state.submissions) == 1


def test_calls_while_offline_are_not_recorded(emulator: EmulatorServer, api_key: str) -> None:
    emulator.go_offline()
    with pytest.raises(requests.ConnectionError):
        _models(emulator, api_key)
    emulator.go_online()

    assert emulator.state.requests == []


def test_timed_offline_through_the_admin_route_comes_back_by_itself(
    emulator: EmulatorServer, api_key: str
) -> None:
    answer = requests.post(f"{emulator.base_url}/_emulator/offline", json={"seconds": 0.5}, timeout=5)
    refused_once_answered = _connect_is_refused(emulator)

    back = wait_until(lambda: not _connect_is_refused(emulator) and _models(emulator, api_key), timeout=10)

    assert answer.json() == {"ok": True}
    assert answer.headers["Connection"] == "close"
    assert refused_once_answered
    assert back.status_code == 200
    assert emulator.online


@pytest.mark.parametrize("body", [{}, {"seconds": 0}, {"seconds": -1}, {"seconds": "soon"}])
def test_admin_offline_without_a_positive_duration_is_refused(
    emulator: EmulatorServer, api_key: str, body: dict[str, object]
) -> None:
    answer = requests.post(f"{emulator.base_url}/_emulator/offline", json=body, timeout=5)

    assert answer.status_code == 400
    assert _models(emulator, api_key).status_code == 200


def test_a_later_offline_is_not_undone_by_an_earlier_timed_comeback(emulator: EmulatorServer) -> None:
    emulator.go_offline(seconds=0.2)
    emulator.go_online()
    emulator.go_offline()

    time.sleep(0.5)

    assert _connect_is_refused(emulator)
    assert not emulator.online


def test_going_online_twice_or_offline_twice_changes_nothing_more(
    emulator: EmulatorServer, api_key: str
) -> None:
    emulator.go_online()
    emulator.go_offline()
    emulator.go_offline()
    refused = _connect_is_refused(emulator)
    emulator.go_online()
    emulator.go_online()

    assert refused
    assert _models(emulator, api_key).status_code == 200


@pytest.mark.parametrize("seconds", [None, 60.0])
def test_stop_while_offline_returns_promptly_and_never_comes_back(seconds: float | None) -> None:
    server = EmulatorServer().start()
    server.go_offline(seconds)

    started = time.monotonic()
    server.stop()
    server.go_online()

    assert time.monotonic() - started < 5
    assert not server.online
    assert _connect_is_refused(server)
    assert not [
        thread for thread in threading.enumerate() if thread.name == f"emulator-comeback-{server.port}"
    ]
