"""Decide, before any upload is spent, whether an object can go to AudioLasso and as what content type."""

import mimetypes
from collections.abc import Callable

from lassodrop.audiolasso import MAX_UPLOAD_BYTES
from lassodrop.collect.outputs import S3_MAX_KEY_BYTES, OutputLayout, utf8_length
from lassodrop.ingest.rejections import RejectCode, Rejection
from lassodrop.ingest.sniff import identify

# The client's limit: the upload guide's "500 MB" read as decimal megabytes, the stricter reading.
MAX_OBJECT_BYTES = MAX_UPLOAD_BYTES
# How many leading bytes are read to tell what an object is: enough for three MPEG-TS packets (3 x 188) to
# be told from a stray 0x47, and for the detector's deepest signature (tar's, at 257), yet one small GET.
SNIFF_BYTES = 512
# Fewer bytes than this hold no audio or video: every container's header alone is longer (RIFF/WAVE, FORM/AIFF
# and an ftyp box name their kind at bytes 8 to 12). Such an object is refused whatever its name says.
MIN_MEDIA_BYTES = 12

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


def check_output_keys(output_prefix: str, key: str, version_id: str | None, etag: str) -> None:
    """Refuse an input whose outputs could never be written: S3 would refuse the longest output key.

    Collect's own layout decides (the version folder and the longest allowed stem extension included), so the
    check and the keys collect writes cannot drift apart. Decided here, a paid job is never started for it.
    """
    longest = utf8_length(OutputLayout.for_input(output_prefix, key, version_id, etag).longest_key())
    if longest > S3_MAX_KEY_BYTES:
        raise Rejection(
            RejectCode.KEY_TOO_LONG,
            f"the longest output key would be {longest} bytes (UTF-8; the input key is {utf8_length(key)}); "
            f"S3 keys are at most {S3_MAX_KEY_BYTES} bytes",
        )


def resolve_content_type(declared: str | None, key: str, read_head: Callable[[], bytes]) -> str:
    """The content type to declare to AudioLasso, or a Rejection.

    The first bytes decide (`read_head` does a ranged GET of SNIFF_BYTES): a container they name is sent as
    that type whatever the object is called or declared, and anything else they name (an image, a PDF, text)
    is refused, as is an object too short to hold any container. When they cannot tell (an unknown binary
    format), the name decides as it would alone: an audio/* or video/* type is trusted, a generic or missing
    one is resolved from the extension.
    """
    head = read_head()
    found = identify(head) if len(head) >= MIN_MEDIA_BYTES else None
    if found and is_accepted(found):
        return found
    claimed = _claimed_type(declared, key)
    _refuse_what_the_bytes_rule_out(head, found, declared)
    return claimed


def _refuse_what_the_bytes_rule_out(head: bytes, found: str | None, declared: str | None) -> None:
    as_declared = f"declared {declared or 'without a type'!r}"
    if len(head) < MIN_MEDIA_BYTES:
        raise Rejection(
            RejectCode.UNSUPPORTED_CONTENT_TYPE,
            f"the object's {len(head)}-byte length is too short for any audio or video container "
            f"({as_declared})",
        )
    if found:
        raise Rejection(
            RejectCode.UNSUPPORTED_CONTENT_TYPE,
            f"the first bytes are {found}, not audio or video ({as_declared})",
        )


def _claimed_type(declared: str | None, key: str) -> str:
    """What the declared type, else the extension, says the object is; a Rejection if not audio or video."""
    media_type = normalize(declared)
    media_type = _ALIASES.get(media_type, media_type)
    if media_type in GENERIC_TYPES:
        media_type = _guess_from_extension(key) or ""
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
