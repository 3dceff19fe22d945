"""`classify` is the one decision of what an AudioLasso error means for the pipeline; this is its table."""

import pytest

from lassodrop.audiolasso import (
    AudioLassoError,
    AuthenticationError,
    BadRequestError,
    Call,
    ConnectionFailedError,
    ExpiredError,
    FileTooLargeError,
    InsufficientCreditsError,
    InvalidInputError,
    JobFailedError,
    NotFoundError,
    NotReadyError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    UnsafeUrlError,
    UpstreamError,
    Verdict,
    classify,
)

READ, SUBMIT, PUT = Call.READ, Call.SUBMIT, Call.SIGNED_PUT
RETRY, LATER, ACCOUNT = Verdict.RETRY, Verdict.RETRY_LATER, Verdict.ACCOUNT
TERMINAL, UNKNOWN = Verdict.TERMINAL, Verdict.UNKNOWN_OUTCOME

TABLE = [
    # Reads are idempotent: anything transient is repeated.
    (ConnectionFailedError("read timeout", request_sent=True), READ, RETRY),
    (ConnectionFailedError("connection refused", request_sent=False), READ, RETRY),
    (ServerError("internal error", status_code=500), READ, RETRY),
    (ServerError("gateway timeout", status_code=504), READ, RETRY),
    (UpstreamError("model provider failed", status_code=502), READ, RETRY),
    (ServiceUnavailableError("busy", status_code=503), READ, RETRY),
    (RateLimitedError("slow down", status_code=429), READ, RETRY),
    (NotReadyError("not ready", status_code=409, code="REQUEST_NOT_READY"), READ, LATER),
    (UnexpectedResponseError("200 answer without a status"), READ, LATER),
    (AuthenticationError("bad key", status_code=401), READ, ACCOUNT),
    (InsufficientCreditsError("no credits", status_code=402), READ, ACCOUNT),
    (PermissionDeniedError("missing scope", status_code=403), READ, ACCOUNT),
    (BadRequestError("bad prompt", status_code=400), READ, TERMINAL),
    (NotFoundError("no such request", status_code=404), READ, TERMINAL),
    (JobFailedError("model failed", status_code=409, code="MODEL_FAILED"), READ, TERMINAL),
    (ExpiredError("gone", status_code=410), READ, TERMINAL),
    (FileTooLargeError("too big", status_code=413), READ, TERMINAL),
    (AudioLassoError("teapot", status_code=418), READ, TERMINAL),
    (InvalidInputError("refused locally"), READ, TERMINAL),
    (UnsafeUrlError("private address"), READ, TERMINAL),
    # A submit that may have created a job is never sent again.
    (ConnectionFailedError("read timeout", request_sent=True), SUBMIT, UNKNOWN),
    (ConnectionFailedError("connection refused", request_sent=False), SUBMIT, RETRY),
    (UnexpectedResponseError("202 answer without a request_id"), SUBMIT, UNKNOWN),
    (ServerError("gateway timeout", status_code=504), SUBMIT, UNKNOWN),
    (ServerError("internal error", status_code=500), SUBMIT, LATER),
    (UpstreamError("model provider failed", status_code=502), SUBMIT, LATER),
    (ServiceUnavailableError("busy", status_code=503), SUBMIT, RETRY),
    (RateLimitedError("slow down", status_code=429), SUBMIT, RETRY),
    (BadRequestError("bad prompt", status_code=400), SUBMIT, TERMINAL),
    (AuthenticationError("bad key", status_code=401), SUBMIT, ACCOUNT),
    (InsufficientCreditsError("no credits", status_code=402), SUBMIT, ACCOUNT),
    # A signed upload URL that expired or refused its signature is replaced by a fresh one.
    (ExpiredError("upload URL expired", status_code=410), PUT, RETRY),
    (PermissionDeniedError("signature mismatch", status_code=403), PUT, RETRY),
    (ConnectionFailedError("dropped", request_sent=True), PUT, RETRY),
    (BadRequestError("wrong length", status_code=400), PUT, TERMINAL),
]


@pytest.mark.parametrize(("error", "call", "verdict"), TABLE)
def test_each_error_has_one_meaning_for_the_pipeline(
    error: AudioLassoError, call: Call, verdict: Verdict
) -> None:
    assert classify(error, call) is verdict


@pytest.mark.parametrize(("error", "call", "verdict"), [row for row in TABLE if row[1] is READ])
def test_retryable_is_the_read_verdict_retry(error: AudioLassoError, call: Call, verdict: Verdict) -> None:
    assert error.retryable is (verdict is RETRY)
