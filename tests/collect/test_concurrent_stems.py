"""Both stems are copied at once, so collect's timeout bounds the larger copy, not the sum of both."""

import threading
from typing import Any

import pytest

from lassodrop.audiolasso import ExpiredError
from lassodrop.collect import service
from lassodrop.messages import CheckMessage
from tests.collect.conftest import Pipeline
from tests.fixtures.audio import pcm_wav

# Long enough for a slow machine to start the second copy, short enough to fail fast when they run in turn.
MEET_SECONDS = 10


def test_target_and_residual_copies_run_at_the_same_time(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given copies that only go on once both have started (in turn, the first would wait alone and fail)
    both_started = threading.Barrier(2, timeout=MEET_SECONDS)
    real_copy = service.copy_output
    names: list[str] = []

    def meet_then_copy(api: Any, s3: Any, name: str, *rest: Any) -> Any:
        names.append(name)
        both_started.wait()
        return real_copy(api, s3, name, *rest)

    monkeypatch.setattr(service, "copy_output", meet_then_copy)
    audio = pcm_wav(8000, rate=8000)
    object_id = pipeline.drop("duet.wav", audio)

    # When the finished job is collected
    outcome = pipeline.collector().handle(CheckMessage(object_id, None, "first-check"))

    # Then both copies met, and the job completed with both stems in their usual order
    assert outcome == "COMPLETED"
    assert sorted(names) == ["residual", "target"]
    assert list(pipeline.row(object_id)["outputs"]) == ["target", "residual", "result"]


def test_one_stem_failing_ends_the_job_once_both_copies_are_over(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the residual's URL expired while the target copies normally
    real_copy = service.copy_output
    finished: list[str] = []

    def expire_the_residual(api: Any, s3: Any, name: str, *rest: Any) -> Any:
        if name == "residual":
            raise ExpiredError("output expired", status_code=410, code="EXPIRED")
        stored = real_copy(api, s3, name, *rest)
        finished.append(name)
        return stored

    monkeypatch.setattr(service, "copy_output", expire_the_residual)
    object_id = pipeline.drop("late.wav", pcm_wav(8000, rate=8000))

    # When it is collected
    outcome = pipeline.collector().handle(CheckMessage(object_id, None, "first-check"))

    # Then the job is EXPIRED, recorded after the target's copy had ended (no copy left running)
    assert outcome == "EXPIRED"
    assert finished == ["target"]
    assert pipeline.row(object_id)["status"] == "EXPIRED"
