"""The AudioLasso error hierarchy, the one mapper from an HTTP answer to an error, and `classify`: the one
decision of what an error means for the pipeline (retry, retry later, account trouble, terminal for this file,
or "may already have happened"). The client, ingest and collect all read `classify`; nothing else decides.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from lassodrop.audiolasso.redact import short_text, storage_error_text


class AudioLassoError(Exception):
    """Base of every error the client raises; carries what the service said.

    The message, code, param and request id are redacted and bounded here, once for every error: they end
    up on job rows, in events and in logs, and may hold text the provider or a storage host sent back (see
    `redact`).
    """

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
        message = short_text(message)
        super().__init__(message)
        self.message = message
        # Answered by a signed storage URL (an upload or output), which carries no API key: its 401 or 403 is
        # about that URL, never about the account.
        self.from_signed_url = False
        self.status_code = status_code
        self.code = short_text(code) if code else code
        self.param = short_text(param) if param else param
        self.request_id = short_text(request_id) if request_id else request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether the same read may be repeated at once (see `classify`)."""
        return classify(self) is Verdict.RETRY

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


class Call(StrEnum):
    """What kind of call failed: what may be repeated depends on it."""

    READ = "read"  # everything idempotent: create upload, status, result, file, models, output downloads
    SUBMIT = "submit"  # creates (and bills) a job; the API has no idempotency key
    SIGNED_PUT = "signed-put"  # the upload PUT to a signed URL (a refused or expired URL is replaced)


class Verdict(StrEnum):
    """What a failed call means for the pipeline."""

    RETRY = "retry"  # transient and nothing was done: repeat it now (the client, within its bounds) or later
    # Not now, on the next attempt: the job is not ready (409), the service failed a submit and its docs say
    # to retry (500/502), or an answer could not be read.
    RETRY_LATER = "retry-later"
    ACCOUNT = "account"  # the key, the credits or the scopes (401/402/403): every file alike, not this one's
    TERMINAL = "terminal"  # this file cannot go on: record why
    UNKNOWN_OUTCOME = "unknown-outcome"  # the call may have taken effect: never send it again


_TRANSIENT = (ConnectionFailedError, ServerError, UpstreamError, RateLimitedError, ServiceUnavailableError)
_ACCOUNT = (AuthenticationError, InsufficientCreditsError, PermissionDeniedError)
# What a signed URL answers when it expired or its signature no longer holds: ask for a new upload URL.
FRESH_URL_ERRORS = (ExpiredError, PermissionDeniedError)


def classify(error: AudioLassoError, call: Call = Call.READ) -> Verdict:
    """What `error`, raised by a call of kind `call`, means for the pipeline; the one place this is decided.

    A submit is only repeated when the answer proves nothing was done (the connection never opened, 429,
    503) or the service itself failed it (500, 502: its docs say retry); no answer after the request went
    out, an unreadable success, or a gateway's 5xx (504: no verdict of the service) may have created a job.
    """
    if call is Call.SUBMIT:
        return _classify_submit(error)
    if call is Call.SIGNED_PUT and isinstance(error, FRESH_URL_ERRORS):
        return Verdict.RETRY
    if isinstance(error, _TRANSIENT):
        return Verdict.RETRY
    if isinstance(error, (UnexpectedResponseError, NotReadyError)) and not isinstance(error, JobFailedError):
        return Verdict.RETRY_LATER
    if isinstance(error, _ACCOUNT) and not error.from_signed_url:
        return Verdict.ACCOUNT
    return Verdict.TERMINAL


def _classify_submit(error: AudioLassoError) -> Verdict:
    if isinstance(error, ConnectionFailedError):
        return Verdict.UNKNOWN_OUTCOME if error.request_sent else Verdict.RETRY
    if isinstance(error, UnexpectedResponseError):
        return Verdict.UNKNOWN_OUTCOME
    if isinstance(error, (RateLimitedError, ServiceUnavailableError)):
        return Verdict.RETRY
    if isinstance(error, UpstreamError) or (isinstance(error, ServerError) and error.status_code == 500):
        return Verdict.RETRY_LATER
    if isinstance(error, ServerError):
        return Verdict.UNKNOWN_OUTCOME
    return classify(error)


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
    """For an answer without an `error` object: a signed URL's storage host, a proxy, a gateway."""
    kept = short_text(storage_error_text(body)) if isinstance(body, str) else ""
    return kept or f"HTTP {status_code}"


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
