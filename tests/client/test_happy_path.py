import hashlib
from typing import Any

import pytest

from lassodrop.audiolasso import AudioLassoClient, InvalidInputError, JobFailedError, NotReadyError, Span
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import pcm_wav

from .helpers import Opener, wait_for_terminal


def test_upload_submit_poll_result_and_download_returns_the_separated_target(
    client: AudioLassoClient, emulator
) -> None:
    # Given a WAV file
    data = pcm_wav()

    # When it is uploaded, submitted and polled to completion
    upload = client.upload("song.wav", "audio/wav", len(data), Opener(data))
    submission = client.submit("isolate the lead vocal", file_id=upload.file_id, spans=[Span(0.0, 0.05)])
    job = wait_for_terminal(client, submission.status_url or "")
    result = client.result(result_url=submission.result_url)
    with client.open_output(result.target) as stream:
        declared, target = stream.content_length, stream.read()

    # Then the emulator got the exact bytes and handed them back as the target
    assert [u.sha256 for u in emulator.state.uploads] == [hashlib.sha256(data).hexdigest()]
    assert job.status == "COMPLETED"
    assert [entry.message for entry in job.logs][-1] == "separation completed"
    assert (result.sample_rate, result.target.file_name, result.residual.file_name) == (
        44100,
        "target.wav",
        "residual.wav",
    )
    assert target == data
    assert declared == len(data)


def test_submit_sends_the_documented_body_with_camel_case_webhook_fields_at_the_top(
    client: AudioLassoClient, emulator
) -> None:
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))

    client.submit(
        "remove crowd noise",
        file_id=upload.file_id,
        spans=[{"start": 1, "end": 2.5, "include": False}],
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret="s3cret",
    )

    assert emulator.state.submissions == [
        {
            "input": {
                "file_id": upload.file_id,
                "prompt": "remove crowd noise",
                "spans": [{"start": 1.0, "end": 2.5, "include": False}],
            },
            "webhookUrl": "http://127.0.0.1:9/hook",
            "webhookSecret": "s3cret",
        }
    ]


def test_status_stream_yields_each_change_and_stops_at_the_terminal_status(client: AudioLassoClient) -> None:
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))
    submission = client.submit("isolate the drums", file_id=upload.file_id)

    seen = list(client.stream_status(submission.request_id, logs=True))

    assert seen[-1].status == "COMPLETED"
    assert seen[-1].logs
    assert all(not job.is_terminal for job in seen[:-1])


def test_a_failed_job_reports_its_error_and_its_result_raises_job_failed(client: AudioLassoClient) -> None:
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))
    submission = client.submit("[fail] isolate the bass", file_id=upload.file_id)

    job = wait_for_terminal(client, submission.status_url or "")

    assert job.status == "FAILED"
    assert job.error is not None
    assert job.error.code == "MODEL_FAILED"
    with pytest.raises(JobFailedError) as caught:
        client.result(submission.request_id)
    assert caught.value.code == "MODEL_FAILED"


def test_result_before_completion_raises_not_ready_without_retrying(
    client: AudioLassoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.state.set_timings(queue_seconds=60.0)
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))
    submission = client.submit("isolate the vocal", file_id=upload.file_id)

    with pytest.raises(NotReadyError) as caught:
        client.result(submission.request_id)

    assert caught.value.code == "REQUEST_NOT_READY"
    assert sleeps == []


def test_file_metadata_and_models_are_parsed(client: AudioLassoClient) -> None:
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))

    info = client.file(upload.file_id)
    models = client.models()

    assert (info.file_id, info.file_name, info.file_size, info.status) == (
        upload.file_id,
        "a.wav",
        len(data),
        "uploaded",
    )
    assert [model.id for model in models] == ["audio/separate"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"prompt": "isolate the vocal"},
        {"prompt": "isolate the vocal", "file_id": "file_1", "audio_url": "https://example.com/a.wav"},
        {"prompt": "  ", "file_id": "file_1"},
        {"prompt": "isolate the vocal", "file_id": "file_1", "spans": [{"start": 3, "end": 1}]},
        {"prompt": "isolate the vocal", "file_id": "file_1", "webhook_secret": "s"},
    ],
)
def test_submit_refuses_bad_arguments_before_any_request(
    client: AudioLassoClient, emulator: EmulatorServer, arguments: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError):
        client.submit(**arguments)

    assert emulator.state.requests == []
