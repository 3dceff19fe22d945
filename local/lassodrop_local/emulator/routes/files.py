"""Temporary input files: create one (answering a signed upload URL), read its metadata, upload to it."""

import time
from typing import TYPE_CHECKING

from lassodrop_local.emulator.api import Reply
from lassodrop_local.emulator.errors import ApiError, expired, invalid, not_found
from lassodrop_local.emulator.signing import Verdict
from lassodrop_local.emulator.state import UploadRecord

if TYPE_CHECKING:
    from lassodrop_local.emulator.handler import Handler


def create_file(request: "Handler") -> Reply:
    return request.app.api.create_file(request.json_body())


def get_file(request: "Handler", file_id: str) -> Reply:
    return request.app.api.get_file(file_id)


def upload(request: "Handler", file_id: str) -> None:
    """PUT to a signed upload URL, checked and stored like an S3 presigned PUT."""
    app = request.app
    record = app.state.get_file(file_id)
    verdict = app.signer.verify("PUT", f"/uploads/{file_id}", request.query)
    if verdict is Verdict.BAD_SIGNATURE:
        raise ApiError(403, "PERMISSION_DENIED", "The upload URL signature does not match.")
    if record is None:
        raise not_found("File")
    if verdict is Verdict.EXPIRED or time.time() >= record.upload_expires_at:
        raise expired("The upload URL has expired; create a new upload.")
    size = _upload_length(request, record.content_type, record.file_size)
    path = app.storage_dir / "uploads" / file_id
    digest = request.receive(path, size, drop_after=app.state.take_upload_drop())
    if digest is None:
        return
    stored = UploadRecord(
        file_id=file_id,
        size=size,
        sha256=digest,
        content_type=request.headers.get("Content-Type", ""),
        headers=request.headers_seen(),
        authorization_sent="Authorization" in request.headers,
    )
    app.state.record_upload(stored, path)
    request.send_bytes(200, b"", (("ETag", f'"{digest}"'),))


def _upload_length(request: "Handler", content_type: str, file_size: int) -> int:
    """What a presigned PUT checks before reading a byte: length known, type as signed, size declared."""
    if request.chunked():
        raise ApiError(411, "INVALID_REQUEST", "Chunked uploads are refused; send a Content-Length.")
    length = request.headers.get("Content-Length")
    if length is None or not length.isdigit():
        raise ApiError(411, "INVALID_REQUEST", "Content-Length is required.")
    sent_type = request.headers.get("Content-Type", "")
    if sent_type.strip().lower() != content_type.strip().lower():
        raise ApiError(403, "PERMISSION_DENIED", f"content-type must be {content_type!r}, as signed.")
    if int(length) != file_size:
        raise invalid(f"The body must be exactly file_size ({file_size}) bytes.", "content-length")
    return int(length)
