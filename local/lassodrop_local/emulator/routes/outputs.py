"""Output downloads: a finished job's target and residual WAVs, behind signed, expiring URLs."""

import time
from typing import TYPE_CHECKING

from lassodrop_local.emulator.errors import ApiError, expired, not_found
from lassodrop_local.emulator.signing import Verdict

if TYPE_CHECKING:
    from lassodrop_local.emulator.handler import Handler


def output(request: "Handler", request_id: str, name: str) -> None:
    """GET a signed output URL: 404 before the job completes, 410 once the URL or the result expired."""
    app = request.app
    verdict = app.signer.verify("GET", f"/outputs/{request_id}/{name}.wav", request.query)
    if verdict is Verdict.BAD_SIGNATURE:
        raise ApiError(403, "PERMISSION_DENIED", "The output URL signature does not match.")
    job = app.api.job(request_id)
    now = time.time()
    if job.status(now) != "COMPLETED":
        raise not_found("Output")
    retention = app.state.timings.result_retention_seconds
    if verdict is Verdict.EXPIRED or job.outputs_expired(now, retention):
        raise expired("The output URL has expired.")
    built = app.outputs_for(request_id, job.input_path)
    path = built.target if name == "target" else built.residual
    request.send_file(path, "audio/wav", drop_after=app.state.take_output_drop())
