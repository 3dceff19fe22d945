"""The AudioLasso HTTP client: uploads, jobs, results and outputs, with bounded retries and URL checks."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urljoin

import requests
import urllib3

from lassodrop.audiolasso.download import OutputStream
from lassodrop.audiolasso.errors import (
    FRESH_URL_ERRORS,
    AudioLassoError,
    Call,
    ConnectionFailedError,
    InvalidInputError,
    UnexpectedResponseError,
    Verdict,
    classify,
    error_from_response,
)
from lassodrop.audiolasso.models import (
    FileInfo,
    JobResult,
    JobStatus,
    Model,
    Output,
    Span,
    Submission,
    Upload,
    as_object,
)
from lassodrop.audiolasso.redact import redact_url as _redact
from lassodrop.audiolasso.redact import short_text
from lassodrop.audiolasso.retry import RetryPolicy, call_with_retries, wait_before_retry
from lassodrop.audiolasso.sse import parse_events, split_lines
from lassodrop.audiolasso.upload import (
    DEFAULT_BLOCK_SIZE,
    ExactLengthBody,
    Readable,
    check_upload_input,
    check_upload_size,
    signed_url_session,
)
from lassodrop.audiolasso.urls import UrlPolicy

_log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://audiolasso.dev"
DEFAULT_TIMEOUT = (5.0, 60.0)
USER_AGENT = "lassodrop-audiolasso/0.1"
_MAX_REDIRECTS = 3
_MAX_WATCH_CONNECTIONS = 5
# A read timing out this close to the watch's deadline is the watch ending, not a failure.
_WATCH_DEADLINE_SLACK_SECONDS = 1.0
_MAX_CAUSE_DEPTH = 6
_STREAM_READ = 64 * 1024
_STREAM_ERRORS = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)
# Exceptions that only wrap another (requests' are OSErrors too) and whose text may hold the URL.
_WRAPPERS = (urllib3.exceptions.HTTPError, requests.RequestException)


class AudioLassoClient:
    """Client for the AudioLasso API (https://audiolasso.dev/v1).

    Every call has a (connect, read) timeout. Idempotent calls are retried with backoff on network errors,
    500, 502, 429 and 503 (honouring Retry-After); `submit` is not (see its docstring). Every URL the service
    returns is checked by a UrlPolicy before use: status, result and stream URLs, which get the key, only on
    the base URL's host; signed upload and output URLs, which get no credentials, also on `signed_url_hosts`
    (exact names or "*.domain" patterns, https only).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        allow_local: bool = False,
        signed_url_hosts: Sequence[str] = (),
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = 4,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        if not api_key:
            raise InvalidInputError("an API key is required")
        self.urls = UrlPolicy(base_url, allow_local=allow_local, signed_url_hosts=signed_url_hosts)
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self._api_root = base_url.rstrip("/") + "/v1"
        self._auth_headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._signed = signed_url_session(block_size, USER_AGENT)
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"AudioLassoClient({self._api_root!r})"

    def close(self) -> None:
        """Close the connections this client opened (a session passed in stays the caller's to close)."""
        if self._owns_session:
            self._session.close()
        self._signed.close()

    def __enter__(self) -> AudioLassoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_upload(self, file_name: str, content_type: str, file_size: int) -> Upload:
        """Create a temporary upload; size and content type are checked first (InvalidInputError).

        Retried like a read: a repeat after a lost answer only leaves an unused temporary upload behind.
        """
        check_upload_input(content_type, file_size)
        body = {
            "file_name": file_name,
            "content_type": content_type,
            "file_size": file_size,
            "purpose": "audio.separate.input",
        }
        return Upload.from_json(self._call("POST", self._api("/files"), json_body=body))

    def put_upload(self, upload: Upload, source: Readable, size: int) -> None:
        """PUT exactly `size` bytes read from `source` to the signed URL: one attempt, never retried here.

        Sends Content-Length (never chunked), the upload's own headers and no Authorization.
        """
        check_upload_size(size)
        if upload.upload_method not in ("PUT", "POST"):
            raise UnexpectedResponseError(f"unsupported upload method {upload.upload_method!r}")
        url = self.urls.check_signed(upload.upload_url)
        started = time.monotonic()
        body = ExactLengthBody(source, size)
        response = self._send_signed(upload.upload_method, url, data=body, headers=dict(upload.headers))
        response.close()
        _log.debug("upload finished: %s bytes in %.2fs", body.sent, time.monotonic() - started)

    def upload(
        self, file_name: str, content_type: str, size: int, open_source: Callable[[], Readable]
    ) -> Upload:
        """Create an upload and send the bytes, re-opening the source for every attempt.

        Nothing is sent when the size or content type is refused locally. A network error, 500, 502, 429 or
        503 on the PUT is retried with a freshly opened source (a half-read stream is never re-sent); a 410
        or 403 from the signed URL (expired or refused signature) first asks for a fresh upload URL.
        Returns the Upload whose bytes were accepted.
        """
        check_upload_input(content_type, size)
        relay = _Relay(self, file_name, content_type, size, open_source)
        return call_with_retries(
            relay.attempt, self.retry_policy, what="upload", should_retry=relay.should_retry
        )

    def submit(
        self,
        prompt: str,
        *,
        file_id: str | None = None,
        audio_url: str | None = None,
        spans: Sequence[Span | Mapping[str, Any]] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> Submission:
        """Submit a separation job for an uploaded file (`file_id`) or a public `audio_url`.

        The API has no idempotency key, so a submit that may have reached the service is never repeated:
        a repeat could start, and bill, a second job. Only answers that prove nothing was done are retried
        (the connection never opened; 429 or 503). A 500, 502, timeout or dropped connection is raised
        to the caller, who can check for the job before deciding to submit again.
        """
        body = _submission_body(prompt, file_id, audio_url, spans, webhook_url, webhook_secret)
        url = self._api("/queue/audio/separate")
        data = call_with_retries(
            lambda: self._send_json("POST", url, json_body=body),
            self.retry_policy,
            what="submit",
            should_retry=_submit_retryable,
        )
        return Submission.from_json(data)

    def status(
        self, request_id: str | None = None, *, status_url: str | None = None, logs: bool = False
    ) -> JobStatus:
        """The job's status, from the returned `status_url` when given, else built from `request_id`."""
        url = self._job_url(request_id, status_url, "status")
        return JobStatus.from_json(self._call("GET", url, params=_logs_param(logs)))

    def stream_status(
        self, request_id: str | None = None, *, stream_url: str | None = None, logs: bool = False
    ) -> Iterator[JobStatus]:
        """Status updates from the SSE stream, ending after the first terminal status.

        A stream that breaks or ends early is reopened; the retry bound counts failures since the last event,
        so a long job behind a proxy that cuts idle connections is still followed to its end.
        """
        url = self._job_url(request_id, stream_url, "status/stream")
        retry = 0
        while True:
            try:
                for job in self._stream_once(url, logs):
                    retry = 0
                    yield job
                    if job.is_terminal:
                        return
                raise ConnectionFailedError("status stream ended before a terminal status")
            except AudioLassoError as error:
                wait_before_retry(self.retry_policy, retry, error, what="status stream")
                retry += 1

    def watch_status(
        self,
        request_id: str | None = None,
        *,
        stream_url: str | None = None,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> JobStatus | None:
        """Follow the SSE stream for about `seconds` at most: the first terminal status, else the last status
        seen (None if no event came in time).

        The service sends an event only when the status changes, so a quiet stream is normal: each
        connection's read timeout is the time left, and a read that times out at the deadline ends the watch.
        After a change short of the end the stream is reopened with the time then left, so one early change
        cannot stretch the watch by a whole read timeout. Any other failure raises as `status()` would.
        """
        url = self._job_url(request_id, stream_url, "status/stream")
        deadline = clock() + seconds
        last: JobStatus | None = None
        # A stream that keeps closing at once must not become a busy loop: a few connections, then give back.
        for _ in range(_MAX_WATCH_CONNECTIONS):
            left = deadline - clock()
            if left <= 0:
                break
            try:
                for job in self._stream_once(url, False, read_timeout=left):
                    if job.is_terminal:
                        return job
                    changed = last is not None and job.status != last.status
                    last = job
                    if changed:
                        break
            except ConnectionFailedError:
                if clock() < deadline - _WATCH_DEADLINE_SLACK_SECONDS:
                    raise
                break
        return last

    def result(self, request_id: str | None = None, *, result_url: str | None = None) -> JobResult:
        """Outputs of a COMPLETED job; NotReadyError (409) before that, JobFailedError for a failed job."""
        url = self._job_url(request_id, result_url, "result")
        return JobResult.from_json(self._call("GET", url))

    @contextlib.contextmanager
    def open_output(self, output: Output | str) -> Iterator[OutputStream]:
        """Open an output URL (checked, no credentials, streamed) as a readable with `content_length`."""
        url = output.url if isinstance(output, Output) else output
        response = call_with_retries(
            lambda: self._get_following_redirects(url), self.retry_policy, what="output download"
        )
        with response:
            yield OutputStream(response)

    def file(self, file_id: str) -> FileInfo:
        """Metadata of an uploaded file."""
        return FileInfo.from_json(self._call("GET", self._api(f"/files/{_segment(file_id)}")))

    def models(self) -> list[Model]:
        """The models the service offers."""
        data = self._call("GET", self._api("/models")).get("data")
        if not isinstance(data, list):
            raise UnexpectedResponseError("models response has no 'data' list")
        return [Model.from_json(as_object(item)) for item in data]

    def _api(self, path: str) -> str:
        return self._api_root + path

    def _job_url(self, request_id: str | None, given_url: str | None, suffix: str) -> str:
        if given_url:
            return self.urls.check_api(given_url)
        if not request_id:
            raise InvalidInputError("a request_id or the URL the service returned is required")
        return self._api(f"/queue/requests/{_segment(request_id)}/{suffix}")

    def _call(
        self, method: str, url: str, *, json_body: Any = None, params: Mapping[str, str] | None = None
    ) -> Mapping[str, Any]:
        return call_with_retries(
            lambda: self._send_json(method, url, json_body=json_body, params=params),
            self.retry_policy,
            what=f"{method} {_redact(url)}",
        )

    def _send_json(
        self, method: str, url: str, *, json_body: Any = None, params: Mapping[str, str] | None = None
    ) -> Mapping[str, Any]:
        with self._send_api(method, url, json_body=json_body, params=params) as response:
            return as_object(_decode_json(response))

    def _send_api(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        _log.debug("%s %s", method, _redact(url))
        try:
            response = self._session.request(
                method,
                url,
                json=json_body,
                params=params,
                headers=self._auth_headers,
                timeout=timeout or self._timeout,
                allow_redirects=False,
                stream=stream,
            )
        except requests.RequestException as error:
            failure = network_error(error, method, url)
        else:
            return _checked(response)
        raise failure  # outside the except block: see network_error

    def _send_signed(
        self, method: str, url: str, *, redirect_ok: bool = False, **kwargs: Any
    ) -> requests.Response:
        _log.debug("%s %s (signed)", method, _redact(url))
        try:
            response = self._signed.request(
                method, url, timeout=self._timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            failure = network_error(error, method, url)
        else:
            if redirect_ok and response.is_redirect:
                return response
            try:
                return _checked(response)
            except AudioLassoError as refused:
                refused.from_signed_url = True
                raise
        raise failure  # outside the except block: see network_error

    def _get_following_redirects(self, url: str) -> requests.Response:
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send_signed("GET", self.urls.check_signed(url), redirect_ok=True, stream=True)
            if not response.is_redirect:
                return response
            url = urljoin(url, response.headers["Location"])
            response.close()
        raise UnexpectedResponseError(f"more than {_MAX_REDIRECTS} redirects for an output")

    def _stream_once(self, url: str, logs: bool, *, read_timeout: float | None = None) -> Iterator[JobStatus]:
        timeout = self._timeout if read_timeout is None else (self._timeout[0], read_timeout)
        with self._send_api("GET", url, params=_logs_param(logs), stream=True, timeout=timeout) as response:
            failure = None
            try:
                for event, data in parse_events(split_lines(_raw_chunks(response))):
                    if event == "status":
                        yield JobStatus.from_json(as_object(_loads(data)))
            except _STREAM_ERRORS as error:
                failure = network_error(error, "GET", url)
            if failure is not None:
                raise failure  # outside the except block: see network_error


class _Relay:
    """State of one `upload()`: the current upload URL and how each attempt re-opens the source."""

    def __init__(
        self,
        client: AudioLassoClient,
        file_name: str,
        content_type: str,
        size: int,
        open_source: Callable[[], Readable],
    ) -> None:
        self._client = client
        self._create = lambda: client.create_upload(file_name, content_type, size)
        self._size = size
        self._open_source = open_source
        self._upload: Upload | None = None
        self._put_error: AudioLassoError | None = None

    def attempt(self) -> Upload:
        self._put_error = None
        upload = self._upload = self._upload or self._create()
        try:
            with _opened(self._open_source) as source:
                self._client.put_upload(upload, source, self._size)
        except AudioLassoError as error:
            self._put_error = error
            if isinstance(error, FRESH_URL_ERRORS):
                self._upload = None
            raise
        return upload

    def should_retry(self, error: AudioLassoError) -> bool:
        """Only PUT failures are retried here: create_upload has already spent its own retries."""
        return error is self._put_error and classify(error, Call.SIGNED_PUT) is Verdict.RETRY


@contextlib.contextmanager
def _opened(open_source: Callable[[], Readable]) -> Iterator[Readable]:
    source = open_source()
    try:
        yield source
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()


def _submit_retryable(error: AudioLassoError) -> bool:
    return classify(error, Call.SUBMIT) is Verdict.RETRY


def _submission_body(
    prompt: str,
    file_id: str | None,
    audio_url: str | None,
    spans: Sequence[Span | Mapping[str, Any]] | None,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> dict[str, Any]:
    if not prompt or not prompt.strip():
        raise InvalidInputError("a prompt is required", param="input.prompt")
    if (file_id is None) == (audio_url is None):
        raise InvalidInputError("exactly one of file_id or audio_url is required", param="input")
    if webhook_secret and not webhook_url:
        raise InvalidInputError("webhook_secret needs a webhook_url", param="webhookSecret")
    job: dict[str, Any] = {"file_id": file_id} if file_id is not None else {"audio_url": audio_url}
    job["prompt"] = prompt
    if spans:
        job["spans"] = [Span.parse(span).to_json() for span in spans]
    body: dict[str, Any] = {"input": job}
    if webhook_url:
        body["webhookUrl"] = webhook_url
    if webhook_secret:
        body["webhookSecret"] = webhook_secret
    return body


def network_error(error: Exception, method: str, url: str) -> ConnectionFailedError:
    """A ConnectionFailedError for an exception raised before or instead of an HTTP answer.

    requests' and urllib3's exceptions spell out the whole URL they were given ("Max retries exceeded with
    url: /path?X-Amz-Signature=..."), so the original is not chained: `raise ... from error` would print it
    in every traceback (logger.exception, the tracer, the batch processor's report), and even `from None`
    keeps it as __context__ for any tool that walks the chain. Callers raise the result outside their
    `except` block so there is no context at all; what was useful in the original, its kind and the OS
    error beneath it, is kept in the message, with the URL redacted.
    """
    return ConnectionFailedError(
        f"{type(error).__name__} on {method} {_redact(url)}{_os_cause(error)}",
        request_sent=not _never_connected(error),
    )


def _os_cause(error: BaseException) -> str:
    """The OS error under `error` as ' (ConnectionRefusedError: [Errno 111] Connection refused)', or ''.

    An OS error's text is its errno and strerror, never a URL; the wrappers in between are skipped.
    """
    found: BaseException | None = error
    for _ in range(_MAX_CAUSE_DEPTH):
        found = _inner(found) if found is not None else None
        if isinstance(found, OSError) and not isinstance(found, _WRAPPERS):
            return f" ({type(found).__name__}: {short_text(str(found))})"
    return ""


def _inner(error: BaseException) -> BaseException | None:
    """The exception `error` wraps: urllib3's `reason`, one of its arguments, or the chained one."""
    candidates = (getattr(error, "reason", None), *error.args, error.__cause__, error.__context__)
    return next((item for item in candidates if isinstance(item, BaseException)), None)


def _never_connected(error: Exception) -> bool:
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _checked(response: requests.Response) -> requests.Response:
    if 200 <= response.status_code < 300:
        return response
    with response:
        body = _error_body(response)
    error = error_from_response(response.status_code, body, response.headers)
    _log.debug("%s answered %s %s", _redact(response.url), response.status_code, error.code)
    raise error


def _error_body(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text
    except _STREAM_ERRORS:
        return None


def _decode_json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponseError(f"response from {_redact(response.url)} is not JSON") from None


def _loads(data: str) -> object:
    try:
        return json.loads(data)
    except ValueError:
        raise UnexpectedResponseError("status event data is not JSON") from None


def _raw_chunks(response: requests.Response) -> Iterator[bytes]:
    while chunk := response.raw.read1(_STREAM_READ):
        yield chunk


def _logs_param(logs: bool) -> dict[str, str] | None:
    return {"logs": "true"} if logs else None


def _segment(value: str) -> str:
    return quote(value, safe="")
