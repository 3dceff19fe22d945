"""Immutable values parsed from the service's JSON; a missing or mistyped field is UnexpectedResponseError."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from lassodrop.audiolasso.errors import InvalidInputError, UnexpectedResponseError
from lassodrop.audiolasso.redact import short_text

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED"})


def _field(data: Mapping[str, Any], key: str) -> Any:
    if key not in data or data[key] is None:
        raise UnexpectedResponseError(f"response has no {key!r}")
    return data[key]


def _str(data: Mapping[str, Any], key: str) -> str:
    value = _field(data, key)
    if not isinstance(value, str):
        raise UnexpectedResponseError(f"response field {key!r} is not a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    return _str(data, key) if data.get(key) is not None else None


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _field(data, key)
    if not isinstance(value, Mapping):
        raise UnexpectedResponseError(f"response field {key!r} is not an object")
    return value


def as_object(body: object) -> Mapping[str, Any]:
    """The body as a JSON object, or UnexpectedResponseError."""
    if not isinstance(body, Mapping):
        raise UnexpectedResponseError("response body is not a JSON object")
    return body


@dataclass(frozen=True)
class Span:
    """A hint in seconds: `include` True where the target sound is, False where it is not."""

    start: float
    end: float
    include: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            message = f"span needs 0 <= start < end, got {self.start}..{self.end}"
            raise InvalidInputError(message, param="spans")

    @classmethod
    def parse(cls, value: Span | Mapping[str, Any]) -> Span:
        """A Span from itself or from a {"start", "end", "include"} mapping (e.g. object metadata)."""
        if isinstance(value, Span):
            return value
        try:
            return cls(float(value["start"]), float(value["end"]), bool(value.get("include", True)))
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(f"bad span {value!r}: {error}", param="spans") from None

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "include": self.include}


@dataclass(frozen=True)
class ApiErrorInfo:
    code: str
    message: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiErrorInfo:
        # A failed job's error goes onto the row and into the event: bounded like the client's own errors.
        return cls(code=short_text(_str(data, "code")), message=short_text(str(data.get("message") or "")))


@dataclass(frozen=True)
class Upload:
    """A temporary upload: PUT the bytes to `upload_url` with exactly `headers`, before `expires_at`.

    `delete_after` is `retention.delete_after`, when the service names when it deletes the file.
    """

    file_id: str
    upload_url: str
    upload_method: str
    headers: Mapping[str, str]
    expires_at: str
    delete_after: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Upload:
        headers = {str(name): str(value) for name, value in _mapping(data, "headers").items()}
        retention = data.get("retention")
        return cls(
            file_id=_str(data, "file_id"),
            upload_url=_str(data, "upload_url"),
            upload_method=str(data.get("upload_method") or "PUT").upper(),
            headers=MappingProxyType(headers),
            expires_at=_str(data, "expires_at"),
            delete_after=_opt_str(retention, "delete_after") if isinstance(retention, Mapping) else None,
        )


@dataclass(frozen=True)
class Submission:
    request_id: str
    status: str
    status_url: str | None
    stream_url: str | None
    result_url: str | None
    created_at: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Submission:
        return cls(
            request_id=_str(data, "request_id"),
            status=_str(data, "status"),
            status_url=_opt_str(data, "status_url"),
            stream_url=_opt_str(data, "stream_url"),
            result_url=_opt_str(data, "result_url"),
            created_at=_opt_str(data, "created_at"),
        )


@dataclass(frozen=True)
class LogEntry:
    timestamp: str
    message: str

    @classmethod
    def from_json(cls, data: object) -> LogEntry:
        entry = as_object(data)
        return cls(timestamp=str(entry.get("timestamp") or ""), message=str(entry.get("message") or ""))


@dataclass(frozen=True)
class JobStatus:
    request_id: str
    status: str
    result_url: str | None
    logs: tuple[LogEntry, ...]
    error: ApiErrorInfo | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobStatus:
        logs = data.get("logs") or []
        if not isinstance(logs, list):
            raise UnexpectedResponseError("response field 'logs' is not a list")
        error = data.get("error")
        return cls(
            request_id=_str(data, "request_id"),
            status=_str(data, "status"),
            result_url=_opt_str(data, "result_url"),
            logs=tuple(LogEntry.from_json(entry) for entry in logs),
            error=ApiErrorInfo.from_json(as_object(error)) if error is not None else None,
        )


@dataclass(frozen=True)
class Output:
    """One separated stem; `url` is temporary (copy it promptly)."""

    url: str
    content_type: str
    file_name: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Output:
        return cls(
            url=_str(data, "url"),
            content_type=str(data.get("content_type") or "application/octet-stream"),
            file_name=str(data.get("file_name") or ""),
        )


@dataclass(frozen=True)
class JobResult:
    request_id: str
    status: str
    target: Output
    residual: Output
    sample_rate: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        outputs = _mapping(data, "data")
        sample_rate = outputs.get("sample_rate")
        return cls(
            request_id=_str(data, "request_id"),
            status=_str(data, "status"),
            target=Output.from_json(_mapping(outputs, "target")),
            residual=Output.from_json(_mapping(outputs, "residual")),
            sample_rate=sample_rate if isinstance(sample_rate, int) else None,
        )


@dataclass(frozen=True)
class FileInfo:
    """File metadata; the docs do not publish its shape, so everything past `file_id` is optional."""

    file_id: str
    file_name: str | None
    content_type: str | None
    file_size: int | None
    status: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileInfo:
        size = data.get("file_size")
        return cls(
            file_id=_str(data, "file_id"),
            file_name=_opt_str(data, "file_name"),
            content_type=_opt_str(data, "content_type"),
            file_size=size if isinstance(size, int) else None,
            status=_opt_str(data, "status"),
        )


@dataclass(frozen=True)
class Model:
    id: str
    description: str
    input: Mapping[str, Any]
    output: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        return cls(
            id=_str(data, "id"),
            description=str(data.get("description") or ""),
            input=MappingProxyType(dict(data.get("input") or {})),
            output=MappingProxyType(dict(data.get("output") or {})),
        )
