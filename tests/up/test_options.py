"""What `lassodrop up` refuses before it starts anything, and what it records of a started stack."""

import os
import socket
from types import SimpleNamespace

import pytest

from lassodrop_local.cli import main
from lassodrop_local.runner.embedded import PortInUseError, Provider, ensure_port_free
from lassodrop_local.up.cli import up_state


@pytest.fixture
def busy_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_port_that_is_taken_is_named(busy_port):
    with pytest.raises(PortInUseError, match=f"port {busy_port} on 127.0.0.1 is in use"):
        ensure_port_free(busy_port)


@pytest.mark.parametrize("option", ["--port", "--emulator-port"])
def test_up_on_a_taken_port_says_so_and_exits_1_without_a_state_file(
    option, busy_port, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LASSODROP_STATE_DIR", str(tmp_path))

    code = main(["up", "--json", option, str(busy_port)])

    printed = capsys.readouterr()
    assert code == 1
    assert printed.out == ""
    assert f"port {busy_port} on 127.0.0.1 is in use" in printed.err
    assert not (tmp_path / "up.json").exists()


def test_up_refuses_an_empty_prompt(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LASSODROP_STATE_DIR", str(tmp_path))

    with pytest.raises(SystemExit) as exited:
        main(["up", "--prompt", " "])

    assert exited.value.code == 2
    assert "the prompt must not be empty" in capsys.readouterr().err


class FakeSqs:
    def get_queue_url(self, QueueName):
        return {"QueueUrl": f"http://127.0.0.1:4566/123456789012/{QueueName}"}


def started_stack(provider: Provider) -> SimpleNamespace:
    """What `up_state` reads of a started EmbeddedStack."""
    queues = {
        name: SimpleNamespace(url=f"https://sqs.us-east-1.amazonaws.com/123456789012/lassodrop-{name}-X")
        for name in ("IngestQueue", "IngestDLQ", "CheckQueue", "CheckDLQ", "ExistingBucketEventsDLQ")
    }
    info = SimpleNamespace(
        region="us-east-1",
        input_bucket="in",
        output_bucket="out",
        jobs_table="jobs",
        stack_name="lassodrop",
        queues=queues,
    )
    clients = SimpleNamespace(endpoint_url="http://127.0.0.1:4566")
    return SimpleNamespace(info=info, provider=provider, clients=clients, client=lambda service: FakeSqs())


def test_with_the_real_service_the_state_has_no_emulator_url_and_queues_are_at_the_endpoint():
    stack = started_stack(Provider("al_real", "https://audiolasso.dev", allow_local=False))

    state = up_state(stack)

    assert state.emulator_url is None
    assert state.aws_endpoint_url == "http://127.0.0.1:4566"
    assert state.pid == os.getpid()
    assert state.queues == {
        name: f"http://127.0.0.1:4566/123456789012/lassodrop-{name}-X"
        for name in ("IngestQueue", "IngestDLQ", "CheckQueue", "CheckDLQ")
    }


def test_with_the_emulator_the_state_names_its_url():
    stack = started_stack(Provider("al_local_key", "http://127.0.0.1:5555", allow_local=True))

    assert up_state(stack).emulator_url == "http://127.0.0.1:5555"


def test_up_refuses_a_real_service_the_functions_would_refuse_before_taking_the_state_file(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LASSODROP_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AUDIOLASSO_API_KEY", "al_real_key")
    monkeypatch.setenv("AUDIOLASSO_BASE_URL", "http://audiolasso.dev")

    code = main(["up", "--json"])

    printed = capsys.readouterr()
    assert code == 2
    assert printed.out == ""
    assert "lassodrop up: error: AUDIOLASSO_BASE_URL http://audiolasso.dev" in printed.err
    assert list(tmp_path.iterdir()) == []
