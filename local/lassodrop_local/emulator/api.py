"""The JSON routes of the API: what each answers, given the state. HTTP mechanics live in handler.py."""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lassodrop_local.emulator import wav
from lassodrop_local.emulator.errors import ApiError, invalid, not_found
from lassodrop_local.emulator.ids import iso, new_id
from lassodrop_local.emulator.jobs import FAIL_TRIGGER, MODEL, TERMINAL, Job, model_failure
from lassodrop_local.emulator.signing import UrlSigner
from lassodrop_local.emulator.state import EmulatorState, FileRecord
from lassodrop_local.emulator.validation import parse_new_file, parse_submission

_INPUT_RETENTION_SECONDS = 24 * 3600
_OUTPUT_NAMES = ("target", "residual")
_MODELS = {
    "object": "list",
    "data": [
        {
            "id": MODEL,
            "object": "model",
            "description": "Separate one sound, named by a text prompt, from audio or video.",
            "input": {"file_id": "string", "audio_url": "string", "prompt": "string", "spans": "array"},
            "output": {"target": "audio/wav", "residual": "audio/wav", "sample_rate": "integer"},
        }
    ],
}


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


class Api:
    def __init__(self, state: EmulatorState, signer: UrlSigner, base_url: str) -> None:
        self.state, self.signer, self.base_url = state, signer, base_url

    def models(self) -> Reply:
        return Reply(200, _MODELS)

    def create_file(self, body: Any) -> Reply:
        # Spends no credit and is never refused for want of one. The docs do not say whether the service
        # checks credits here; the emulator charges only the call that runs the model, so an account out of
        # credits is met at submit, the one call a client must be ready to see answer 402 in any case.
        new = parse_new_file(body)
        now, file_id = time.time(), new_id("file")
        record = FileRecord(
            file_id=file_id,
            file_name=new.file_name,
            content_type=new.content_type,
            file_size=new.file_size,
            purpose=new.purpose,
            created_at=now,
            upload_expires_at=now + self.state.timings.upload_url_ttl_seconds,
            delete_after=now + _INPUT_RETENTION_SECONDS,
        )
        self.state.add_file(record)
        return Reply(201, self._upload_answer(record))

    def _upload_answer(self, record: FileRecord) -> dict[str, Any]:
        path = f"/uploads/{record.file_id}"
        query = self.signer.query("PUT", path, record.upload_expires_at)
        return {
            "file_id": record.file_id,
            "upload_url": f"{self.base_url}{path}?{query}",
            "upload_method": "PUT",
            "headers": {"content-type": record.content_type},
            "expires_at": iso(record.upload_expires_at),
            "retention": {"delete_after": iso(record.delete_after)},
        }

    def get_file(self, file_id: str) -> Reply:
        record = self.state.get_file(file_id)
        if record is None:
            raise not_found("File")
        return Reply(
            200,
            {
                "file_id": record.file_id,
                "file_name": record.file_name,
                "content_type": record.content_type,
                "file_size": record.file_size,
                "purpose": record.purpose,
                "status": record.status,
                "created_at": iso(record.created_at),
                "expires_at": iso(record.upload_expires_at),
                "retention": {"delete_after": iso(record.delete_after)},
            },
        )

    def submit(self, body: Any) -> Reply:
        request = parse_submission(body)
        input_path = self._uploaded_input(request.file_id) if request.file_id else None
        # Checked after the body, so a refused request costs nothing and a 400 still says what is wrong.
        if not self.state.spend_credit():
            raise ApiError(402, "INSUFFICIENT_CREDITS", "The account has no credits left.")
        now, timings = time.time(), self.state.timings
        started = now + timings.queue_seconds
        fails = FAIL_TRIGGER in request.prompt.lower() or self.state.take_job_failure()
        job = Job(
            request_id=new_id("req"),
            created_at=now,
            started_at=started,
            finished_at=started + timings.run_seconds,
            input_path=input_path,
            body=body,
            error=model_failure("The model could not separate this audio.") if fails else None,
            webhook_url=request.webhook_url,
            webhook_secret=request.webhook_secret,
        )
        self.state.add_job(job, body)
        return Reply(202, self._submitted(job))

    def _uploaded_input(self, file_id: str) -> Path:
        record = self.state.get_file(file_id)
        if record is None:
            raise not_found("File", "input.file_id")
        if record.status != "uploaded" or record.path is None:
            raise invalid("The file has not been uploaded yet.", "input.file_id")
        return record.path

    def _submitted(self, job: Job) -> dict[str, Any]:
        base = f"{self.base_url}/v1/queue/requests/{job.request_id}"
        return {
            "request_id": job.request_id,
            "status": "IN_QUEUE",
            "model": MODEL,
            "created_at": iso(job.created_at),
            "status_url": f"{base}/status",
            "stream_url": f"{base}/status/stream",
            "result_url": f"{base}/result",
        }

    def job(self, request_id: str) -> Job:
        job = self.state.get_job(request_id)
        if job is None:
            raise not_found("Request")
        return job

    def status(self, request_id: str, logs: bool) -> Reply:
        return Reply(200, self.status_body(self.job(request_id), time.time(), logs))

    def status_body(self, job: Job, now: float, logs: bool) -> dict[str, Any]:
        status = job.status(now)
        body: dict[str, Any] = {
            "request_id": job.request_id,
            "model": MODEL,
            "status": status,
            "result_url": f"{self.base_url}/v1/queue/requests/{job.request_id}/result",
        }
        if logs:
            body["logs"] = job.logs(now)
        if status == "FAILED" and job.error:
            body["error"] = dict(job.error)
        return body

    def result(self, request_id: str) -> Reply:
        job, now = self.job(request_id), time.time()
        status = job.status(now)
        if status == "FAILED" and job.error:
            raise ApiError(409, job.error["code"], job.error["message"], request_id=job.request_id)
        if status not in TERMINAL:
            raise ApiError(409, "REQUEST_NOT_READY", f"The request is {status}.", request_id=job.request_id)
        if job.result_expired(now, self.state.timings.result_retention_seconds):
            raise ApiError(410, "EXPIRED", "The result has expired.", request_id=job.request_id)
        data = {**self.outputs(job, now), "sample_rate": wav.sample_rate_of(job.input_path)}
        return Reply(200, {"request_id": job.request_id, "model": MODEL, "status": status, "data": data})

    def outputs(self, job: Job, now: float) -> dict[str, Any]:
        """Signed output URLs, never valid past the result's retention."""
        timings = self.state.timings
        expires_at = min(
            now + timings.output_url_ttl_seconds, job.finished_at + timings.result_retention_seconds
        )
        return {name: self._output(job, name, expires_at) for name in _OUTPUT_NAMES}

    def _output(self, job: Job, name: str, expires_at: float) -> dict[str, str]:
        path = f"/outputs/{job.request_id}/{name}.wav"
        url = f"{self.base_url}{path}?{self.signer.query('GET', path, expires_at)}"
        return {"url": url, "content_type": "audio/wav", "file_name": f"{name}.wav"}

    def webhook_event(self, job: Job) -> dict[str, Any]:
        """The documented terminal event (no `sample_rate`, unlike the result)."""
        status = job.status(job.finished_at)
        event: dict[str, Any] = {
            "type": "audio.separate.failed" if job.error else "audio.separate.completed",
            "request_id": job.request_id,
            "model": MODEL,
            "status": status,
        }
        if job.error:
            event["error"] = dict(job.error)
        else:
            event["data"] = self.outputs(job, time.time())
        return event
