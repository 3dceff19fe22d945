"""The relay's S3 source reads through botocore's public StreamingBody, and so keeps its length check."""

import io

import pytest
from botocore.exceptions import IncompleteReadError
from botocore.response import StreamingBody

from lassodrop.ingest.relay import S3Source


def test_reads_pass_through_in_the_asked_block_size_and_are_counted() -> None:
    # Given: an S3 body of 10 bytes
    source = S3Source(StreamingBody(io.BytesIO(b"0123456789"), 10))

    # When: it is read in blocks of 4
    blocks = [source.read(4), source.read(4), source.read(4), source.read(4)]

    # Then: each read returns at most 4 bytes, the end reads empty, and every byte is counted
    assert blocks == [b"0123", b"4567", b"89", b""]
    assert source.bytes_read == 10


def test_a_body_cut_short_raises_instead_of_ending_quietly() -> None:
    # Given: S3 announced 10 bytes, but the connection ends after 6
    source = S3Source(StreamingBody(io.BytesIO(b"012345"), 10))

    assert source.read(4) == b"0123"
    assert source.read(4) == b"45"

    # When / Then: the read at the end notices the missing bytes (the raw stream underneath would not)
    with pytest.raises(IncompleteReadError):
        source.read(4)
