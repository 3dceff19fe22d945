"""What an object's first bytes are: real files of every container AudioLasso takes, and what is not one."""

import pytest

from lassodrop.ingest.sniff import identify
from lassodrop.ingest.validation import SNIFF_BYTES, resolve_content_type
from tests.fixtures.media_files import media_bytes

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20

REAL_FILES = {
    "tone.wav": "audio/wav",
    "tone-rf64.wav": "audio/wav",
    "tone.w64": "audio/x-w64",
    "tone.aiff": "audio/aiff",
    "tone.aifc": "audio/aiff",
    "tone-id3.mp3": "audio/mpeg",
    "tone-bare.mp3": "audio/mpeg",
    "tone.flac": "audio/flac",
    "tone-vorbis.ogg": "audio/ogg",
    "tone.opus": "audio/ogg",
    "tone.m4a": "audio/mp4",
    "tone.aac": "audio/aac",
    "tone.mp4": "video/mp4",
    "tone.mov": "video/quicktime",
    "tone.webm": "video/webm",
    "tone.mka": "video/x-matroska",
    "tone.mkv": "video/x-matroska",
    "tone.wma": "video/x-ms-asf",
    "tone.wmv": "video/x-ms-asf",
    "tone.caf": "audio/x-caf",
    "tone.amr": "audio/amr",
    "tone.ts": "video/mp2t",
}


@pytest.mark.parametrize(("name", "expected"), REAL_FILES.items())
def test_real_files_are_recognised_from_the_bytes_a_ranged_get_reads(name: str, expected: str) -> None:
    assert identify(media_bytes(name)[:SNIFF_BYTES]) == expected


@pytest.mark.parametrize(("name", "expected"), REAL_FILES.items())
def test_real_files_named_and_declared_wav_are_sent_as_their_real_container(name: str, expected: str) -> None:
    head = media_bytes(name)[:SNIFF_BYTES]

    assert resolve_content_type("audio/x-wav", "take.wav", lambda: head) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("png.wav", "image/png"), ("zip.wav", "application/zip"), ("text.wav", "text/plain")],
)
def test_files_that_only_pretend_to_be_wav_are_named_for_what_they_are(name: str, expected: str) -> None:
    assert identify(media_bytes(name)[:SNIFF_BYTES]) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (WAV, "audio/wav"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"ID3\x04\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
        (b"\xff\xf1\x50\x80\x00", "audio/aac"),
        (b"\xff\xf0\x50\x80\x00", "audio/aac"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"OggS\x00\x02\x00\x00", "audio/ogg"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", "audio/mp4"),
        (b"\x00\x00\x00\x20ftypM4B \x00\x00\x02\x00", "audio/mp4"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x14ftyp3gp5\x00\x00\x00\x00", "video/3gpp"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
        (b"BW64\xff\xff\xff\xffWAVEds64", "audio/wav"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
        (b"PK\x03\x04\x14\x00\x00\x00", "application/zip"),
        (b"", None),
    ],
)
def test_containers_are_recognised_by_their_first_bytes(head: bytes, expected: str | None) -> None:
    assert identify(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"\x00\x01 nothing known" * 4,
        # One sync byte, then not another one a packet later: not a transport stream
        b"G" + bytes(range(256)) * 2,
        # Frame sync bits whose MPEG fields then hold a reserved value: version, bitrate, sample rate
        b"\xff\xea\x90\x00" + b"\x00" * 60,
        b"\xff\xe3\xf0\x00" + b"\x00" * 60,
        b"\xff\xe3\x0c\x00" + b"\x00" * 60,
        # NIST SPHERE audio opens with a text header; it is not a text file
        b"NIST_1A\n   1024\nsample_count -i 16000\nend_head\n",
    ],
)
def test_bytes_that_name_nothing_known_are_not_guessed(head: bytes) -> None:
    assert identify(head) is None


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    # Given UTF-8 text whose last character lost its final byte to the ranged GET
    head = "notes de l'élève: à 0:03 la cloche".encode()[:-1]

    assert identify(head) == "text/plain"
