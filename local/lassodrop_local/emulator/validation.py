"""Request-body checks for POST /v1/files and the submit route, each naming the offending `param`."""

import ipaddress
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from lassodrop_local.emulator.errors import ApiError, invalid

MAX_FILE_SIZE = 500_000_000
PURPOSE = "audio.separate.input"
_ALLOWED_TYPE_PREFIXES = ("audio/", "video/")
_OCTET_STREAM = "application/octet-stream"
# Names that never reach the public internet, refused without a DNS lookup (the emulator stays offline).
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")


@dataclass(frozen=True)
class NewFile:
    file_name: str
    content_type: str
    file_size: int
    purpose: str


@dataclass(frozen=True)
class Submission:
    file_id: str | None
    audio_url: str | None
    prompt: str
    webhook_url: str | None
    webhook_secret: str | None


def parse_new_file(body: Any) -> NewFile:
    body = _object(body, "body")
    file_name = _string(body, "file_name")
    content_type = _string(body, "content_type")
    file_size = body.get("file_size")
    if not isinstance(file_size, int) or isinstance(file_size, bool) or file_size < 1:
        raise invalid("file_size must be a positive integer (bytes).", "file_size")
    purpose = body.get("purpose", PURPOSE)
    if purpose != PURPOSE:
        raise invalid(f"purpose must be {PURPOSE!r}.", "purpose")
    if not content_type_allowed(content_type):
        message = "Use audio/*, video/* or application/octet-stream."
        raise ApiError(400, "UNSUPPORTED_CONTENT_TYPE", message, "content_type")
    if file_size > MAX_FILE_SIZE:
        raise ApiError(413, "FILE_TOO_LARGE", "The maximum file size is 500 MB.", "file_size")
    return NewFile(file_name, content_type, file_size, purpose)


def content_type_allowed(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == _OCTET_STREAM:
        return True
    return media_type.startswith(_ALLOWED_TYPE_PREFIXES) and len(media_type.split("/", 1)[1]) > 0


def parse_submission(body: Any) -> Submission:
    body = _object(body, "body")
    request = _object(body.get("input"), "input")
    file_id, audio_url = request.get("file_id"), request.get("audio_url")
    if (file_id is None) == (audio_url is None):
        raise invalid("Give exactly one of input.file_id and input.audio_url.", "input")
    if file_id is not None and (not isinstance(file_id, str) or not file_id):
        raise invalid("input.file_id must be a non-empty string.", "input.file_id")
    if audio_url is not None:
        check_audio_url(audio_url)
    prompt = _string(request, "prompt", "input.")
    _check_spans(request.get("spans"))
    webhook_url = _optional_url(body.get("webhookUrl"))
    webhook_secret = body.get("webhookSecret")
    if webhook_secret is not None and not isinstance(webhook_secret, str):
        raise invalid("webhookSecret must be a string.", "webhookSecret")
    return Submission(file_id, audio_url, prompt, webhook_url, webhook_secret)


def check_audio_url(value: Any) -> None:
    """Public HTTPS only, as the service documents; decided from the URL alone, never by fetching it."""
    refused = ApiError(400, "INVALID_AUDIO_URL", "audio_url must be a public HTTPS URL.", "input.audio_url")
    if not isinstance(value, str):
        raise refused
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError as exc:
        raise refused from exc
    if parts.scheme != "https" or not host or parts.username or parts.password:
        raise refused
    if _private_host(host):
        raise refused


def _private_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_PRIVATE_SUFFIXES)
    return not address.is_global


def _check_spans(spans: Any) -> None:
    if spans is None:
        return
    if not isinstance(spans, list):
        raise invalid("input.spans must be a list.", "input.spans")
    for index, span in enumerate(spans):
        where = f"input.spans[{index}]"
        span = _object(span, where)
        start, end = span.get("start"), span.get("end")
        if not _number(start) or start < 0:
            raise invalid("start must be a number of seconds, at least 0.", f"{where}.start")
        if not _number(end) or end <= start:
            raise invalid("end must be a number of seconds after start.", f"{where}.end")
        if not isinstance(span.get("include", True), bool):
            raise invalid("include must be true or false.", f"{where}.include")


def _optional_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise invalid("webhookUrl must be an http(s) URL.", "webhookUrl")
    return value


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{param} must be a JSON object.", param)
    return value


def _string(body: dict[str, Any], name: str, prefix: str = "") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{prefix}{name} must be a non-empty string.", f"{prefix}{name}")
    return value


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
