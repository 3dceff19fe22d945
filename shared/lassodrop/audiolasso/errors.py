"""The AudioLasso error hierarchy and the one mapper from an HTTP answer to an error."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any


class AudioLassoError(Exception):
    """Base of every error the client raises; carries what the service said."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether repeating the same call may succeed (decided here and nowhere else)."""
        return isinstance(self, _RETRYABLE)

    def __str__(self) -> str:
        parts = [str(self.status_code) if self.status_code else None, self.code, self.message]
        return " ".join(part for part in parts if part)


class BadRequestError(AudioLassoError):
    """400: the body or a parameter was refused."""


class AuthenticationError(AudioLassoError):
    """401: missing or invalid API key."""


class InsufficientCreditsError(AudioLassoError):
    """402: not enough credits."""


class PermissionDeniedError(AudioLassoError):
    """403: the key lacks a scope, or a signed URL refused the request."""


class NotFoundError(AudioLassoError):
    """404: no such request or file."""


class NotReadyError(AudioLassoError):
    """409 REQUEST_NOT_READY: the job has no result yet; poll again later."""


class JobFailedError(NotReadyError):
    """409 carrying the job's own error code (e.g. MODEL_FAILED): the result of a failed job.

    A NotReadyError too, because the docs only promise "409: poll again later"; polling the status then
    shows FAILED, so a caller that does not know this class still ends up right.
    """


class ExpiredError(AudioLassoError):
    """410: the upload URL, result or output expired; a new upload may be made, the same URL never works."""


class LengthRequiredError(AudioLassoError):
    """411: a signed URL refused a body without Content-Length."""


class FileTooLargeError(AudioLassoError):
    """413: the file is over the service's limit."""


class RateLimitedError(AudioLassoError):
    """429: too many requests; `retry_after` holds the service's wait when it gave one."""


class ServerError(AudioLassoError):
    """500 (or another unexpected 5xx): internal error."""


class UpstreamError(AudioLassoError):
    """502: the model provider behind the service failed."""


class ServiceUnavailableError(AudioLassoError):
    """503: temporarily unavailable; `retry_after` holds the service's wait when it gave one."""


class ConnectionFailedError(AudioLassoError):
    """No HTTP answer: connection refused or dropped, or a timeout.

    `request_sent` is False only when the request certainly never reached the server (the connection was
    never established), which is what makes retrying a non-idempotent call safe.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class UnexpectedResponseError(AudioLassoError):
    """A success answer whose body does not have the documented shape."""


class InvalidInputError(AudioLassoError):
    """Refused locally before anything was sent (size, content type, arguments)."""


class SourceLengthError(InvalidInputError):
    """The upload source held fewer (or more) bytes than declared; the PUT was aborted, never sent short."""


class UnsafeUrlError(AudioLassoError):
    """A URL failed validation (scheme, host allow-list, private address) and was not fetched."""


_RETRYABLE = (ConnectionFailedError, ServerError, UpstreamError, RateLimitedError, ServiceUnavailableError)

_BY_STATUS: Mapping[int, type[AudioLassoError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: NotReadyError,
    410: ExpiredError,
    411: LengthRequiredError,
    413: FileTooLargeError,
    429: RateLimitedError,
    500: ServerError,
    502: UpstreamError,
    503: ServiceUnavailableError,
}


def error_from_response(
    status_code: int, body: object, headers: Mapping[str, str] | None = None
) -> AudioLassoError:
    """Build the error for a non-2xx answer from its status, its `error` object and Retry-After."""
    info = _error_object(body)
    code = _text(info.get("code"))
    message = _text(info.get("message")) or _fallback_message(status_code, body)
    return _error_class(status_code, code)(
        message,
        status_code=status_code,
        code=code,
        param=_text(info.get("param")),
        request_id=_text(info.get("request_id")),
        retry_after=parse_retry_after((headers or {}).get("Retry-After")),
    )


def _error_class(status_code: int, code: str | None) -> type[AudioLassoError]:
    if status_code == 409 and code not in (None, "REQUEST_NOT_READY"):
        return JobFailedError
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    return ServerError if status_code >= 500 else AudioLassoError


def _error_object(body: object) -> Mapping[str, Any]:
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return body["error"]
    return {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _fallback_message(status_code: int, body: object) -> str:
    if isinstance(body, str) and body.strip():
        return body.strip()[:200]
    return f"HTTP {status_code}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
