"""Stems are written as audio only: an allow-listed extension, an audio/* type, and an attachment name."""

import dataclasses
from typing import Any

import pytest

from lassodrop.audiolasso import AudioLassoClient
from lassodrop.audiolasso.models import JobResult, Output
from lassodrop.collect.outputs import OutputRefusedError, stem_format
from lassodrop.messages import CheckMessage
from tests.collect.conftest import Pipeline


class RelabellingClient:
    """The real client, except that results carry the file names and types a test makes the provider say."""

    def __init__(self, client: AudioLassoClient, file_name: str, content_type: str) -> None:
        self._client = client
        self._file_name = file_name
        self._content_type = content_type
        self.opened: list[Output] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def result(self, request_id: str, **kwargs: Any) -> JobResult:
        result = self._client.result(request_id, **kwargs)
        relabel = {"file_name": self._file_name, "content_type": self._content_type}
        return dataclasses.replace(
            result,
            target=dataclasses.replace(result.target, **relabel),
            residual=dataclasses.replace(result.residual, **relabel),
        )

    def open_output(self, output: Output) -> Any:
        self.opened.append(output)
        return self._client.open_output(output)


def collect_as(
    pipeline: Pipeline, key: str, file_name: str, content_type: str
) -> tuple[str, str, RelabellingClient]:
    """Drop `key`, then collect it while the provider names its stems `file_name` of `content_type`."""
    object_id = pipeline.drop(key)
    client = RelabellingClient(pipeline.client, file_name, content_type)
    collector = pipeline.collector()
    collector.api_client = lambda: client  # type: ignore[assignment,return-value]
    outcome = collector.handle(CheckMessage(object_id, None, "first-check"))
    return object_id, outcome, client


def head(pipeline: Pipeline, key: str) -> dict[str, Any]:
    return pipeline.stack.s3.head_object(Bucket=pipeline.stack.output_bucket, Key=key)


def test_each_stem_is_written_as_an_audio_attachment_named_after_itself(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("mix.wav")

    assert pipeline.collector().handle(CheckMessage(object_id, None, "first-check")) == "COMPLETED"

    for name in ("target", "residual"):
        stored = head(pipeline, f"{pipeline.folder(object_id)}{name}.wav")
        assert stored["ContentType"] == "audio/wav"
        assert stored["ContentDisposition"] == f'attachment; filename="{name}.wav"'


def test_a_non_audio_type_from_the_provider_becomes_the_extensions_audio_type(pipeline: Pipeline) -> None:
    object_id, outcome, _ = collect_as(pipeline, "page.wav", "stem.flac", "text/html")

    assert outcome == "COMPLETED"
    stored = head(pipeline, f"{pipeline.folder(object_id)}target.flac")
    assert stored["ContentType"] == "audio/flac"
    assert stored["ContentDisposition"] == 'attachment; filename="target.flac"'
    assert pipeline.row(object_id)["outputs"]["target"]["content_type"] == "audio/flac"


def test_an_unlisted_extension_takes_the_providers_declared_audio_type(pipeline: Pipeline) -> None:
    object_id, outcome, _ = collect_as(pipeline, "odd.wav", "stem.bin", "audio/mpeg")

    assert outcome == "COMPLETED"
    stored = head(pipeline, f"{pipeline.folder(object_id)}residual.mp3")
    assert stored["ContentType"] == "audio/mpeg"
    assert stored["ContentDisposition"] == 'attachment; filename="residual.mp3"'


def test_a_stem_that_cannot_be_audio_is_refused_before_anything_is_fetched_or_written(
    pipeline: Pipeline,
) -> None:
    object_id, outcome, client = collect_as(pipeline, "script.wav", "payload.html", "text/html")

    assert outcome == "FAILED"
    row = pipeline.row(object_id)
    assert row["error"]["code"] == "OUTPUT_NOT_AUDIO"
    assert "payload.html" in row["error"]["message"]
    assert client.opened == []
    assert pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket).get("KeyCount", 0) == 0


@pytest.mark.parametrize(
    ("file_name", "content_type", "expected"),
    [
        ("target.wav", "audio/wav", ("wav", "audio/wav")),
        ("residual.FLAC", "audio/x-flac", ("flac", "audio/x-flac")),
        ("", "audio/mpeg", ("mp3", "audio/mpeg")),
        ("stem.opus", "application/octet-stream", ("opus", "audio/opus")),
        ("stem.aiff", "audio/wav; charset=x\r\nX-Evil: 1", ("aiff", "audio/wav")),
        ("stem.m4a", "AUDIO/MP4", ("m4a", "audio/mp4")),
        ("evil.wav/../x", "audio/x-wav", ("wav", "audio/x-wav")),
        ("stem.exe", "audio/webm", ("webm", "audio/webm")),
    ],
)
def test_stem_format_takes_an_allowed_extension_and_an_audio_type(
    file_name: str, content_type: str, expected: tuple[str, str]
) -> None:
    stem = stem_format(Output("https://cdn.audiolasso.dev/o", content_type, file_name))

    assert (stem.extension, stem.content_type) == expected


@pytest.mark.parametrize(
    ("file_name", "content_type"),
    [("no-extension", "application/x-unknown"), ("stem.bin", "audio/x-unknown"), ("a.svg", "image/svg+xml")],
)
def test_stem_format_refuses_what_cannot_be_told_to_be_audio(file_name: str, content_type: str) -> None:
    with pytest.raises(OutputRefusedError) as refused:
        stem_format(Output("https://cdn.audiolasso.dev/o", content_type, file_name))

    assert refused.value.code == "OUTPUT_NOT_AUDIO"
