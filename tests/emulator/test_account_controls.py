"""Account controls: credits running out and coming back, keys revoked, restored and given other scopes."""

import pytest
import requests

from lassodrop_local.emulator import ALL_SCOPES, EmulatorServer
from tests.emulator.helpers import auth, create_upload, submit

JOB = {"input": {"audio_url": "https://cdn.example.com/a.wav", "prompt": "isolate the lead vocal"}}


def test_without_credits_submit_answers_402_until_credits_are_added(
    emulator: EmulatorServer, api_key: str
) -> None:
    emulator.state.set_credits(0)

    refused = submit(emulator, api_key, JOB)
    emulator.state.add_credits(1)
    accepted = submit(emulator, api_key, JOB)

    assert refused.status_code == 402
    assert refused.json() == {
        "error": {"code": "INSUFFICIENT_CREDITS", "message": "The account has no credits left."}
    }
    assert accepted.status_code == 202
    assert len(emulator.state.submissions) == 1


def test_each_accepted_submit_spends_one_credit_then_402(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_credits(2)

    statuses = [submit(emulator, api_key, JOB).status_code for _ in range(3)]

    assert statuses == [202, 202, 402]
    assert emulator.state.credits == 0
    assert len(emulator.state.submissions) == 2


def test_an_invalid_submit_spends_no_credit(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_credits(1)

    invalid = submit(emulator, api_key, {"input": {"prompt": "no audio"}})
    valid = submit(emulator, api_key, JOB)

    assert (invalid.status_code, valid.status_code) == (400, 202)


def test_creating_a_file_needs_no_credits(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_credits(0)

    upload = create_upload(emulator, api_key, 10)

    assert upload["file_id"].startswith("file_")


def test_credits_are_unlimited_by_default_and_again_after_none(
    emulator: EmulatorServer, api_key: str
) -> None:
    unlimited_at_start = emulator.state.credits
    emulator.state.set_credits(0)
    emulator.state.set_credits(None)

    answer = submit(emulator, api_key, JOB)

    assert unlimited_at_start is None
    assert answer.status_code == 202


@pytest.mark.parametrize("remaining", [-1, 1.5, "3", True])
def test_set_credits_refuses_what_is_not_a_count(emulator: EmulatorServer, remaining: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        emulator.state.set_credits(remaining)  # type: ignore[arg-type]


def test_credits_through_the_admin_routes(emulator: EmulatorServer, api_key: str) -> None:
    admin = f"{emulator.base_url}/_emulator"
    requests.post(f"{admin}/credits", json={"remaining": 0}, timeout=5).raise_for_status()
    refused = submit(emulator, api_key, JOB)
    requests.post(f"{admin}/add_credits", json={"count": 1}, timeout=5).raise_for_status()
    accepted = submit(emulator, api_key, JOB)
    left = requests.get(f"{admin}/state", timeout=5).json()["credits"]
    bad = requests.post(f"{admin}/credits", json={"remaining": -2}, timeout=5)

    assert (refused.status_code, accepted.status_code, left) == (402, 202, 0)
    assert bad.status_code == 400


def test_reset_makes_credits_unlimited_again(emulator: EmulatorServer, api_key: str) -> None:
    emulator.state.set_credits(0)

    emulator.state.reset()

    assert submit(emulator, api_key, JOB).status_code == 202


def test_restored_key_comes_back_with_the_scopes_it_had(emulator: EmulatorServer) -> None:
    emulator.state.add_key("al_files_only", {"files:write"})
    emulator.state.revoke_key("al_files_only")
    while_revoked = submit(emulator, "al_files_only", JOB)

    emulator.state.restore_key("al_files_only")
    files = requests.post(
        f"{emulator.base_url}/v1/files",
        json={
            "file_name": "a.wav",
            "content_type": "audio/wav",
            "file_size": 4,
            "purpose": "audio.separate.input",
        },
        headers=auth("al_files_only"),
        timeout=5,
    )
    jobs = submit(emulator, "al_files_only", JOB)

    assert while_revoked.status_code == 401
    assert files.status_code == 201
    assert jobs.status_code == 403
    assert jobs.json()["error"]["code"] == "PERMISSION_DENIED"


def test_restoring_a_key_never_accepted_is_refused(emulator: EmulatorServer) -> None:
    with pytest.raises(ValueError, match="never accepted"):
        emulator.state.restore_key("al_never_seen")


def test_changed_scopes_turn_a_permission_error_into_an_answer(emulator: EmulatorServer) -> None:
    emulator.state.add_key("al_narrow", {"files:read"})
    denied = submit(emulator, "al_narrow", JOB)

    emulator.state.set_scopes("al_narrow", ALL_SCOPES)
    accepted = submit(emulator, "al_narrow", JOB)

    assert denied.status_code == 403
    assert denied.json()["error"] == {
        "code": "PERMISSION_DENIED",
        "message": "This API key lacks the audio:separate scope.",
    }
    assert accepted.status_code == 202


def test_set_scopes_refuses_an_unknown_key_or_scope(emulator: EmulatorServer, api_key: str) -> None:
    with pytest.raises(ValueError, match="unknown key"):
        emulator.state.set_scopes("al_never_seen", ALL_SCOPES)
    with pytest.raises(ValueError, match="unknown scopes"):
        emulator.state.set_scopes(api_key, {"audio:everything"})


def test_scopes_set_on_a_revoked_key_apply_once_it_is_restored(
    emulator: EmulatorServer, api_key: str
) -> None:
    emulator.state.revoke_key(api_key)
    emulator.state.set_scopes(api_key, {"models:read"})
    while_revoked = requests.get(f"{emulator.base_url}/v1/models", headers=auth(api_key), timeout=5)

    emulator.state.restore_key(api_key)
    models = requests.get(f"{emulator.base_url}/v1/models", headers=auth(api_key), timeout=5)

    assert (while_revoked.status_code, models.status_code) == (401, 200)
    assert submit(emulator, api_key, JOB).status_code == 403


def test_keys_through_the_admin_routes(emulator: EmulatorServer, api_key: str) -> None:
    admin = f"{emulator.base_url}/_emulator"

    requests.post(f"{admin}/set_scopes", json={"key": api_key, "scopes": ["files:read"]}, timeout=5)
    denied = submit(emulator, api_key, JOB)
    requests.post(f"{admin}/revoke_key", json={"key": api_key}, timeout=5).raise_for_status()
    revoked = submit(emulator, api_key, JOB)
    requests.post(f"{admin}/restore_key", json={"key": api_key}, timeout=5).raise_for_status()
    restored = submit(emulator, api_key, JOB)
    fixed = requests.post(
        f"{admin}/set_scopes", json={"key": api_key, "scopes": sorted(ALL_SCOPES)}, timeout=5
    )
    accepted = submit(emulator, api_key, JOB)
    unknown = requests.post(f"{admin}/restore_key", json={"key": "al_never_seen"}, timeout=5)

    assert [denied.status_code, revoked.status_code, restored.status_code] == [403, 401, 403]
    assert (fixed.status_code, accepted.status_code) == (200, 202)
    assert unknown.status_code == 400
