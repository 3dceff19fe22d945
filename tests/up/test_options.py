"""What `lassodrop up` refuses before it starts anything."""

import socket

import pytest

from lassodrop_local.cli import main
from lassodrop_local.runner.embedded import PortInUseError, ensure_port_free


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
