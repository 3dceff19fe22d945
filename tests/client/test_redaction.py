"""What the client's errors carry of a signed URL or a long error body: no query, and one bound."""

import io
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from lassodrop.audiolasso import (
    ApiErrorInfo,
    AudioLassoClient,
    ConnectionFailedError,
    Output,
    PermissionDeniedError,
    ServerError,
    Upload,
    error_from_response,
)
from lassodrop.audiolasso.redact import MAX_ERROR_TEXT, redact_text, redact_url, short_text
from tests.fixtures.signed_storage import (
    SIGNED_QUERY,
    FailingStorage,
    assert_no_signed_url,
    refused_url,
)

LONG = "y" * 5000


def test_a_signed_url_is_shown_as_scheme_host_and_path() -> None:
    url = f"https://bucket.s3.amazonaws.com/inputs/a%20b.wav?{SIGNED_QUERY}#part"

    assert redact_url(url) == "https://bucket.s3.amazonaws.com/inputs/a%20b.wav"
    assert redact_url(f"http://[::1/x?{SIGNED_QUERY}") == "http://[::1/x"


def test_free_text_loses_queries_and_signed_parameters() -> None:
    text = f'PUT /inputs/f?{SIGNED_QUERY} HTTP/1.1 and "X-Amz-Credential=AKIA/x&X-Amz-Signature=ab"'

    redacted = redact_text(text)

    assert redacted.startswith("PUT /inputs/f HTTP/1.1 and")
    assert_no_signed_url(redacted)


def test_short_text_is_cut_to_the_one_bound_with_a_mark() -> None:
    cut = short_text(f"first\n\nline {LONG}")

    assert len(cut) == MAX_ERROR_TEXT
    assert cut.startswith("first line yyy")
    assert cut.endswith("…")
    assert short_text("  fits  ") == "fits"


def test_a_5000_character_provider_message_is_bounded() -> None:
    body = {"error": {"code": "MODEL_FAILED", "message": f"it broke at https://x.example/o?sig=1 {LONG}"}}

    error = error_from_response(500, body)

    assert isinstance(error, ServerError)
    assert error.code == "MODEL_FAILED"
    assert error.message.startswith("it broke at https://x.example/o yyy")
    assert len(error.message) == MAX_ERROR_TEXT
    assert len(ApiErrorInfo.from_json(body["error"]).message) == MAX_ERROR_TEXT


def test_an_s3_xml_error_keeps_only_its_code_and_message() -> None:
    xml = (
        "<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
        f"<X-Amz-Expires>900</X-Amz-Expires><SignatureProvided>{LONG}</SignatureProvided></Error>"
    )

    error = error_from_response(403, xml)

    assert isinstance(error, PermissionDeniedError)
    assert error.message == "AccessDenied: Request has expired"


def test_a_plain_text_body_is_redacted_and_bounded_and_an_empty_one_names_the_status() -> None:
    assert error_from_response(502, f"bad gateway for /o?{SIGNED_QUERY} {LONG}").message.startswith(
        "bad gateway for /o yyy"
    )
    assert len(error_from_response(502, LONG).message) == MAX_ERROR_TEXT
    assert error_from_response(502, f"?{SIGNED_QUERY}").message == "HTTP 502"


def test_a_refused_signed_put_raises_with_no_chained_exception_and_a_redacted_cause(
    client: AudioLassoClient,
) -> None:
    upload = Upload("file_1", refused_url("/inputs/file_1"), "PUT", {}, "")

    with pytest.raises(ConnectionFailedError) as raised:
        client.put_upload(upload, io.BytesIO(b"abc"), 3)

    error = raised.value
    assert error.__cause__ is None
    assert error.__context__ is None
    assert "(ConnectionRefusedError: [Errno 111] Connection refused)" in error.message
    assert error.request_sent is False
    assert_no_signed_url("".join(traceback.format_exception(error)))


def test_a_reset_output_download_raises_with_no_chained_exception(client: AudioLassoClient) -> None:
    with FailingStorage("reset") as storage:
        output = Output(storage.url("/outputs/r/target.wav"), "audio/wav", "target.wav")
        with pytest.raises(ConnectionFailedError) as raised, client.open_output(output):
            pass

    assert raised.value.__context__ is None
    assert "ConnectionResetError" in raised.value.message
    assert_no_signed_url("".join(traceback.format_exception(raised.value)))


def test_with_tracing_on_only_aws_calls_are_patched_so_no_requests_exception_reaches_a_trace(
    tmp_path: Path,
) -> None:
    # X-Ray's requests patch would store a failed call's exception, signed URL and all, in the trace.
    probe = (
        "import botocore.client, requests, lassodrop.observability;"
        "print(hasattr(botocore.client.BaseClient._make_api_call, '__wrapped__'),"
        " hasattr(requests.Session.request, '__wrapped__'))"
    )
    env = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": str(tmp_path),  # what makes Powertools trace: running "in Lambda"
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",  # nothing is sent: no segment is ever opened
    }

    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]
