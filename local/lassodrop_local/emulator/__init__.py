"""A local AudioLasso for tests and the local stack: a real HTTP server implementing the documented API.

What the hosted service leaves open, the emulator decides (see /v1/openapi.json and the project's API notes):
signed upload URLs behave like S3 presigned PUTs (411 for chunked bodies, 403 for a content-type other than
the signed one, 400 for a length other than `file_size`, 410 once expired); a result asked too early answers
409 REQUEST_NOT_READY; webhooks are signed like Standard Webhooks.

Outputs are real WAV files: a PCM WAV input comes back as itself (target) and as silence of the same format
and length (residual); any other input gets a short tone and its silence.

Test triggers:
- A prompt containing "[fail]" (any case) makes the job FAIL with MODEL_FAILED.
- Everything else is driven through `EmulatorServer.state` (fail_next, drop_upload_after, set_latency, ...)
  or the same controls over HTTP under /_emulator/ (see admin.py). Among them:
  - credits: `set_credits(0)` runs the account out, so submits answer 402 INSUFFICIENT_CREDITS (creating a
    file never does); `set_credits(n)` allows n more submits, `add_credits(n)` tops up, None is unlimited
    (the default).
  - keys: `revoke_key` (401 from then on), `restore_key` (back with the scopes it had), `set_scopes`
    (a missing scope answers 403 PERMISSION_DENIED).
- Being down: `EmulatorServer.go_offline()` closes the listening socket (connecting is refused, open
  connections end) and `go_online()` listens again on the same port and base URL, state kept;
  `go_offline(seconds)` comes back by itself, which is the form POST /_emulator/offline offers.
"""

from lassodrop_local.emulator.server import EmulatorServer
from lassodrop_local.emulator.state import ALL_SCOPES, ROUTES, EmulatorState, Timings

__all__ = ["ALL_SCOPES", "ROUTES", "EmulatorServer", "EmulatorState", "Timings"]
