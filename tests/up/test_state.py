"""The state file: who owns it, what a reader sees, and what a killed `up` leaves behind."""

import json
import subprocess
import sys
import textwrap

import pytest

from lassodrop_local.up.state import (
    AlreadyRunningError,
    UpState,
    ownership,
    read_state,
    state_path,
)
from tests.up.test_up import STATE_KEYS

STATE = UpState(
    aws_endpoint_url="http://127.0.0.1:4566",
    region="us-east-1",
    input_bucket="in",
    output_bucket="out",
    jobs_table="jobs",
    emulator_url=None,
    stack_name="lassodrop",
    pid=4242,
    queues={"IngestQueue": "q1", "IngestDLQ": "q2", "CheckQueue": "q3", "CheckDLQ": "q4"},
)


@pytest.fixture
def env(tmp_path):
    return {"LASSODROP_STATE_DIR": str(tmp_path / "state")}


def test_the_state_dir_defaults_to_the_users_local_state(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_path({}) == tmp_path / ".local" / "state" / "lassodrop" / "up.json"
    assert state_path({"LASSODROP_STATE_DIR": "/elsewhere"}).as_posix() == "/elsewhere/up.json"


def test_a_reader_sees_the_published_state_only_while_its_owner_holds_it(env):
    # Given nobody owns the state file
    assert read_state(env) is None

    # When an owner publishes its endpoints
    with ownership(env) as state_file:
        assert read_state(env) is None  # owned but not ready yet
        with state_file.published(STATE):
            # Then the file holds exactly the documented keys, and readers get them back
            assert set(json.loads(state_file.path.read_text())) == STATE_KEYS
            assert read_state(env) == STATE
        assert not state_file.path.exists()

    # And after the owner leaves, nothing is left to read
    assert read_state(env) is None


def test_a_second_owner_is_refused_with_the_first_ones_pid(env):
    with ownership(env):
        with pytest.raises(AlreadyRunningError) as refused, ownership(env):
            pytest.fail("a second owner got the state file")
        assert refused.value.pid is not None
        assert str(state_path(env)) in str(refused.value)


def test_a_file_left_by_a_killed_owner_is_ignored_by_readers_and_replaced_by_the_next_owner(env, tmp_path):
    # Given an owner that published its state and was then killed (it never removed the file)
    script = textwrap.dedent(
        """
        import os, sys
        from lassodrop_local.up.state import UpState, ownership
        state = UpState(**{**%r, "pid": os.getpid()})
        with ownership(%r) as state_file:
            state_file.write(state)
            os._exit(9)
        """
    ) % ({**STATE.__dict__, "queues": dict(STATE.queues)}, env)
    killed = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert killed.returncode == 9
    assert state_path(env).exists()

    # Then readers see no running `up`
    assert read_state(env) is None

    # And the next owner starts from no file at all
    with ownership(env) as state_file:
        assert not state_file.path.exists()
