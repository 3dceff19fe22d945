"""Peak memory of a streamed upload must not grow with its size.

The client runs in a subprocess so tracemalloc sees only its allocations, not the emulator's, which serves
the upload from this test process.
"""

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest

from lassodrop_local.emulator import EmulatorServer

SIZE = 200 * 1000 * 1000
PEAK_BOUND = 16 * 1024 * 1024

CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, tracemalloc
    from lassodrop.audiolasso import AudioLassoClient

    class ZeroSource:
        def __init__(self, size):
            self.remaining, self.largest_read = size, 0

        def read(self, n):
            self.largest_read = max(self.largest_read, n)
            n = min(n, self.remaining)
            self.remaining -= n
            return bytes(n)

    base_url, api_key, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sources = []

    def open_source():
        sources.append(ZeroSource(size))
        return sources[-1]

    client = AudioLassoClient(api_key, base_url, allow_local=True)
    tracemalloc.start()
    upload = client.upload("zeros.wav", "audio/wav", size, open_source)
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"file_id": upload.file_id, "peak": peak, "largest_read": sources[-1].largest_read}))
    """
)


@pytest.mark.slow
def test_a_200_mb_upload_streams_in_1_mib_blocks_with_flat_peak_memory(
    emulator: EmulatorServer, api_key: str
) -> None:
    # Given a 200 MB source generated on the fly, uploaded by a client in its own process
    command = [sys.executable, "-c", CLIENT_SCRIPT, emulator.base_url, api_key, str(SIZE)]

    # When the upload runs
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240, check=True)
    report = json.loads(finished.stdout)

    # Then every byte arrived, read in 1 MiB blocks, and the client never held more than a few blocks
    [upload] = emulator.state.uploads
    assert (upload.file_id, upload.size, upload.sha256) == (report["file_id"], SIZE, _zeros_sha256(SIZE))
    assert report["largest_read"] == 1024 * 1024
    assert report["peak"] < PEAK_BOUND, f"peak {report['peak']} bytes"


def _zeros_sha256(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(1024 * 1024)
    for offset in range(0, size, len(block)):
        digest.update(block[: size - offset])
    return digest.hexdigest()
