"""Content type resolution, size limits and prompt choice: everything decided before an upload is spent."""

import email.header
import json

import pytest

from lassodrop.ingest.prompts import choose_prompt, parse_spans
from lassodrop.ingest.validation import (
    RejectCode,
    Rejection,
    check_size,
    resolve_content_type,
    sniff_content_type,
)

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20


def _no_read() -> bytes:
    raise AssertionError("an explicit audio type must not cost a ranged GET")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (WAV, "audio/wav"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"ID3\x04\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
        (b"\xff\xf1\x50\x80\x00", "audio/aac"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"OggS\x00\x02\x00\x00", "audio/ogg"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", "audio/mp4"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
        (b"%PDF-1.7", None),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_containers_are_recognised_by_their_first_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


def test_explicit_audio_type_is_trusted_without_reading() -> None:
    assert resolve_content_type("audio/mpeg; charset=binary", "a.bin", _no_read) == "audio/mpeg"


def test_generic_type_is_resolved_by_sniffing_first() -> None:
    assert resolve_content_type("binary/octet-stream", "song.mp3", lambda: WAV) == "audio/wav"


@pytest.mark.parametrize("declared", [None, "", "binary/octet-stream", "application/octet-stream"])
def test_generic_or_missing_type_falls_back_to_the_extension(declared: str | None) -> None:
    assert resolve_content_type(declared, "dir/song.flac", lambda: b"unknown bytes") == "audio/flac"


def test_application_ogg_counts_as_audio() -> None:
    assert resolve_content_type("application/ogg", "a.ogg", _no_read) == "audio/ogg"


@pytest.mark.parametrize(
    ("declared", "key"),
    [("text/plain", "notes.wav"), ("image/png", "cover.png"), ("binary/octet-stream", "data.bin")],
)
def test_types_audiolasso_refuses_are_rejected(declared: str, key: str) -> None:
    with pytest.raises(Rejection) as caught:
        resolve_content_type(declared, key, lambda: b"\x00\x01 nothing known")

    assert caught.value.code is RejectCode.UNSUPPORTED_CONTENT_TYPE
    assert declared in caught.value.reason


@pytest.mark.parametrize(
    ("size", "code"), [(0, RejectCode.EMPTY_OBJECT), (500_000_001, RejectCode.TOO_LARGE)]
)
def test_sizes_outside_the_limit_are_rejected(size: int, code: RejectCode) -> None:
    with pytest.raises(Rejection) as caught:
        check_size(size)

    assert caught.value.code is code


@pytest.mark.parametrize("size", [1, 500_000_000])
def test_sizes_at_the_limits_pass(size: int) -> None:
    check_size(size)


PREFIXES = {"talks/": "keep the speaker", "talks/panel/": "keep the moderator"}


def test_metadata_prompt_wins_over_prefix_rules() -> None:
    choice = choose_prompt("talks/panel/a.wav", {"prompt": "isolate the bell"}, PREFIXES, "default")

    assert (choice.prompt, choice.source) == ("isolate the bell", "metadata")


def test_longest_matching_prefix_wins() -> None:
    choice = choose_prompt("talks/panel/a.wav", {}, PREFIXES, "default")

    assert (choice.prompt, choice.source) == ("keep the moderator", "prefix:talks/panel/")


def test_default_prompt_when_nothing_matches() -> None:
    assert choose_prompt("music/a.wav", {"prompt": "  "}, PREFIXES, "default").prompt == "default"


def test_rfc2047_encoded_metadata_prompt_is_decoded() -> None:
    # Non-ASCII metadata set through the SDKs travels as an RFC 2047 encoded word
    encoded = email.header.Header("isole la voix de l'élève", "utf-8").encode()

    choice = choose_prompt("a.wav", {"prompt": encoded}, {}, "d")

    assert choice.prompt == "isole la voix de l'élève"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("prompt", "=?x-no-such-charset?q?vocals?="),
        ("prompt", "=?utf-8?b?//79?="),
        ("spans", "=?nope?q?[]?="),
    ],
)
def test_undecodable_encoded_metadata_is_rejected_with_a_reason(name: str, value: str) -> None:
    with pytest.raises(Rejection) as caught:
        choose_prompt("a.wav", {name: value}, {}, "d")

    assert caught.value.code is RejectCode.INVALID_INPUT
    assert repr(name) in caught.value.reason


def test_valid_spans_are_normalised() -> None:
    spans = parse_spans(json.dumps([{"start": 0, "end": 2.5}, {"start": 3, "end": 4, "include": False}]))

    assert spans == [{"start": 0, "end": 2.5, "include": True}, {"start": 3, "end": 4, "include": False}]


@pytest.mark.parametrize(
    "raw",
    [
        "[{start: 1}",
        "{}",
        "[]",
        json.dumps([{"start": 2, "end": 1}]),
        json.dumps([{"start": -1, "end": 1}]),
        json.dumps([{"start": "0", "end": 1}]),
        json.dumps([{"start": 0, "end": 1, "include": "yes"}]),
        json.dumps([{"start": 0, "end": 1, "extra": 1}]),
        json.dumps([{"start": True, "end": 1}]),
    ],
)
def test_malformed_spans_are_rejected_with_a_reason(raw: str) -> None:
    with pytest.raises(Rejection) as caught:
        parse_spans(raw)

    assert caught.value.code is RejectCode.INVALID_SPANS
    assert "spans" in caught.value.reason or "span " in caught.value.reason
