"""Decide, before any upload is spent, whether an object can go to AudioLasso and as what content type."""

import mimetypes
from collections.abc import Callable

from lassodrop.audiolasso import MAX_UPLOAD_BYTES
from lassodrop.ingest.rejections import RejectCode, Rejection

# The client's limit: the upload guide's "500 MB" read as decimal megabytes, the stricter reading.
MAX_OBJECT_BYTES = MAX_UPLOAD_BYTES
# How many leading bytes `sniff_content_type` needs to tell the containers apart.
SNIFF_BYTES = 64

GENERIC_TYPES = frozenset({"", "binary/octet-stream", "application/octet-stream", "application/x-unknown"})
# Types outside audio/* and video/* that name an audio or video container anyway.
_ALIASES = {
    "application/ogg": "audio/ogg",
    "application/mp4": "audio/mp4",
    "application/x-flac": "audio/flac",
}


def check_size(size: int) -> None:
    if size <= 0:
        raise Rejection(RejectCode.EMPTY_OBJECT, "the object is empty (0 bytes)")
    if size > MAX_OBJECT_BYTES:
        raise Rejection(
            RejectCode.TOO_LARGE, f"the object is {size} bytes; AudioLasso accepts at most {MAX_OBJECT_BYTES}"
        )


def resolve_content_type(declared: str | None, key: str, read_head: Callable[[], bytes]) -> str:
    """The content type to declare to AudioLasso, or a Rejection.

    An explicit audio/* or video/* type is trusted. A generic or missing one is resolved from the object's
    first bytes (`read_head` does a ranged GET, called only then), else from the key's extension.
    """
    media_type = normalize(declared)
    media_type = _ALIASES.get(media_type, media_type)
    if media_type in GENERIC_TYPES:
        media_type = sniff_content_type(read_head()) or _guess_from_extension(key) or ""
        if not media_type:
            raise Rejection(
                RejectCode.UNSUPPORTED_CONTENT_TYPE,
                f"content type {declared or 'missing'!r} is generic and neither the first bytes nor the "
                "extension look like audio or video",
            )
    if not is_accepted(media_type):
        raise Rejection(
            RejectCode.UNSUPPORTED_CONTENT_TYPE,
            f"content type {media_type!r} is not audio or video; AudioLasso accepts audio/* and video/*",
        )
    return media_type


def normalize(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_accepted(media_type: str) -> bool:
    return media_type.startswith(("audio/", "video/"))


def _guess_from_extension(key: str) -> str | None:
    guessed, _ = mimetypes.guess_type(key, strict=False)
    guessed = _ALIASES.get(guessed or "", guessed)
    return guessed if guessed and is_accepted(guessed) else None


def sniff_content_type(head: bytes) -> str | None:
    """The container named by the leading bytes, or None when they are not a known audio/video signature."""
    if head[:4] == b"RIFF":
        return {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _mp4_family(head[8:12])
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    for magic, media_type in _PREFIXES:
        if head.startswith(magic):
            return media_type
    return _mpeg_frame(head)


_PREFIXES = (
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"#!AMR", "audio/amr"),
)


def _mp4_family(brand: bytes) -> str:
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    return "video/quicktime" if brand == b"qt  " else "video/mp4"


def _mpeg_frame(head: bytes) -> str | None:
    # An MPEG audio frame sync (11 set bits) without an ID3 tag: MP3, or AAC (ADTS) when the layer bits are 0.
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
