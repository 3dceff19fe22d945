import io

import pytest
import requests

from lassodrop.audiolasso import MAX_UPLOAD_BYTES, ExactLengthBody, InvalidInputError, check_upload_input
from lassodrop.audiolasso.errors import SourceLengthError


class TrickleSource:
    """A source that hands out at most `step` bytes per read, like a network stream."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step
        self.requested: list[int] = []

    def read(self, size: int) -> bytes:
        self.requested.append(size)
        return self._data.read(min(size, self._step))


def test_reads_never_ask_the_source_for_more_than_remains() -> None:
    source = TrickleSource(b"x" * 10, step=4)
    body = ExactLengthBody(source, 10)

    blocks = [body.read(8), body.read(8), body.read(8), body.read(8)]

    assert b"".join(blocks) == b"x" * 10
    assert max(source.requested[:3]) <= 8
    assert source.requested[2] == 2
    assert body.read(8) == b""


def test_a_source_that_ends_early_raises_instead_of_returning_a_short_body() -> None:
    body = ExactLengthBody(io.BytesIO(b"x" * 5), 10)
    body.read(8)

    with pytest.raises(SourceLengthError, match="5 of 10"):
        body.read(8)


def test_a_source_longer_than_declared_raises_before_the_last_block_is_handed_out() -> None:
    body = ExactLengthBody(io.BytesIO(b"x" * 11), 10)

    with pytest.raises(SourceLengthError, match="more than the declared"):
        body.read(10)


def test_requests_sizes_the_body_with_content_length_and_no_chunking() -> None:
    body = ExactLengthBody(io.BytesIO(b"x" * 10), 10)

    prepared = requests.Request("PUT", "https://audiolasso.dev/u", data=body).prepare()

    assert prepared.headers["Content-Length"] == "10"
    assert "Transfer-Encoding" not in prepared.headers
    assert "Content-Type" not in prepared.headers


@pytest.mark.parametrize("size", [0, -1, MAX_UPLOAD_BYTES + 1])
def test_sizes_outside_one_byte_to_500_mb_are_refused(size: int) -> None:
    with pytest.raises(InvalidInputError):
        check_upload_input("audio/wav", size)


@pytest.mark.parametrize(
    "content_type", ["audio/wav", "video/mp4", "application/octet-stream", "Audio/MPEG; rate=44100"]
)
def test_audio_video_and_octet_stream_are_accepted(content_type: str) -> None:
    check_upload_input(content_type, MAX_UPLOAD_BYTES)


@pytest.mark.parametrize("content_type", ["text/plain", "audio/", "image/png", "binary/octet-stream", ""])
def test_other_content_types_are_refused(content_type: str) -> None:
    with pytest.raises(InvalidInputError):
        check_upload_input(content_type, 10)
