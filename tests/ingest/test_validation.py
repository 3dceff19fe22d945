"""Content type resolution, size limits and prompt choice: everything decided before an upload is spent."""

import email.header
import json

import pytest

from lassodrop.ingest.prompts import choose_prompt, parse_spans
from lassodrop.ingest.rejections import RejectCode, Rejection
from lassodrop.ingest.validation import MIN_MEDIA_BYTES, check_size, resolve_content_type

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20
# Binary bytes of no known format: the bytes cannot tell, so the declared type or the extension decides.
UNKNOWN = b"\x00\x01 nothing known"


def test_declared_audio_type_is_trusted_when_the_bytes_cannot_tell() -> None:
    assert resolve_content_type("audio/mpeg; charset=binary", "a.bin", lambda: UNKNOWN) == "audio/mpeg"


def test_the_first_bytes_win_over_a_declared_audio_type_and_extension() -> None:
    assert resolve_content_type("audio/mpeg", "song.mp3", lambda: WAV) == "audio/wav"


def test_generic_type_is_resolved_by_sniffing_first() -> None:
    assert resolve_content_type("binary/octet-stream", "song.mp3", lambda: WAV) == "audio/wav"


@pytest.mark.parametrize("declared", [None, "", "binary/octet-stream", "application/octet-stream"])
def test_generic_or_missing_type_falls_back_to_the_extension(declared: str | None) -> None:
    assert resolve_content_type(declared, "dir/song.flac", lambda: UNKNOWN) == "audio/flac"


def test_application_ogg_counts_as_audio() -> None:
    assert resolve_content_type("application/ogg", "a.ogg", lambda: UNKNOWN) == "audio/ogg"


@pytest.mark.parametrize(
    ("declared", "key"),
    [("text/plain", "notes.wav"), ("image/png", "cover.png"), ("binary/octet-stream", "data.bin")],
)
def test_types_audiolasso_refuses_are_rejected(declared: str, key: str) -> None:
    with pytest.raises(Rejection) as caught:
        resolve_content_type(declared, key, lambda: UNKNOWN)

    assert caught.value.code is RejectCode.UNSUPPORTED_CONTENT_TYPE
    assert declared in caught.value.reason


@pytest.mark.parametrize(
    ("declared", "head", "named"),
    [
        ("audio/wav", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        ("video/mp4", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
        ("binary/octet-stream", b"just some words, in a file called take.wav", "text/plain"),
    ],
)
def test_bytes_of_another_kind_are_rejected_whatever_the_name_claims(
    declared: str, head: bytes, named: str
) -> None:
    with pytest.raises(Rejection) as caught:
        resolve_content_type(declared, "take.wav", lambda: head)

    assert caught.value.code is RejectCode.UNSUPPORTED_CONTENT_TYPE
    assert named in caught.value.reason
    assert declared in caught.value.reason


@pytest.mark.parametrize("head", [b"R", b"ID3", b"RIFF\x04\x00\x00\x00WAV"])
def test_an_object_too_short_for_any_container_is_rejected(head: bytes) -> None:
    with pytest.raises(Rejection) as caught:
        resolve_content_type("audio/wav", "take.wav", lambda: head)

    assert caught.value.code is RejectCode.UNSUPPORTED_CONTENT_TYPE
    assert f"{len(head)}-byte" in caught.value.reason
    assert "too short" in caught.value.reason


def test_unknown_bytes_just_long_enough_to_judge_keep_the_declared_type() -> None:
    head = b"\x00\x01\x02\x03" * (MIN_MEDIA_BYTES // 4)

    assert resolve_content_type("audio/wav", "take.wav", lambda: head) == "audio/wav"


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
