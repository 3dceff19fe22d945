import hashlib
import io

import pytest

from lassodrop.collect.outputs import (
    HashingReader,
    OutputLayout,
    OutputTooLargeError,
    version_folder,
)


class Trickle(io.RawIOBase):
    """A stream that hands back at most `step` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1) -> bytes:
        return self._data.read(self._step if n < 0 else min(n, self._step))


def test_reader_fills_each_read_from_a_trickling_stream_and_hashes_everything() -> None:
    data = bytes(range(256)) * 100
    reader = HashingReader(Trickle(data, step=7), limit=len(data))

    first = reader.read(1000)
    rest = reader.read()

    assert len(first) == 1000
    assert first + rest == data
    assert (reader.size, reader.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert reader.read(10) == b""


def test_reader_refuses_to_pass_more_than_the_limit() -> None:
    reader = HashingReader(io.BytesIO(b"x" * 11), limit=10)

    with pytest.raises(OutputTooLargeError):
        reader.read()


def test_reader_is_readable_but_not_seekable_so_s3transfer_streams_it() -> None:
    reader = HashingReader(io.BytesIO(b""), limit=1)

    assert reader.readable()
    assert not reader.seekable()


@pytest.mark.parametrize(
    "key", ["a b+c.wav", "100%/mix.wav", "chansons/été - déjà vu.mp3", "deep/nested/path/x.flac"]
)
def test_output_prefix_keeps_the_input_key_verbatim_then_the_version(key: str) -> None:
    assert OutputLayout.for_input("separated/", key, "v1", "abc").folder == f"separated/{key}/v1/"


def test_an_unversioned_input_is_foldered_by_its_etag() -> None:
    layout = OutputLayout.for_input("", "a.wav", None, '"9b2cf535f27731c9-2"')

    assert layout.folder == "a.wav/etag-9b2cf535f27731c9-2/"
    assert layout.result_key == "a.wav/etag-9b2cf535f27731c9-2/result.json"
    assert version_folder("null", "abc") == "etag-abc"


@pytest.mark.parametrize(
    "version_id", ["3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBp=", "..", "v" * 129]
)
def test_a_version_id_unsafe_in_a_key_segment_becomes_its_digest(version_id: str) -> None:
    digest = hashlib.sha256(version_id.encode()).hexdigest()

    assert version_folder(version_id, "abc") == f"sha256-{digest}"


def test_two_versions_never_share_a_folder() -> None:
    assert version_folder("v1", "same") != version_folder("v2", "same")
