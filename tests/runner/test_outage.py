"""An AudioLasso outage on the embedded stack: files dropped during it complete soon after it ends."""

import time

import pytest
import requests

from lassodrop.jobs import JobStore, Status
from lassodrop_local.runner.embedded import EMULATOR_RETRY_MAX_DELAY_SECONDS, EmbeddedStack
from tests.fixtures.audio import pcm_wav
from tests.runner.helpers import LogLines, wait_until

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 20  # longer than the client's own retries (4, up to 7.5 s in all) absorb
# The ingest queue's visibility timeout is 5400 s: a message left to it would not be back within the test.
# With the local backoff capped at a few seconds, every file is done well within a minute of the outage.
BOUND_SECONDS = OUTAGE_SECONDS + 60


def test_files_dropped_while_audiolasso_is_offline_complete_within_the_backoff_bound() -> None:
    with EmbeddedStack(LogLines(), env={}) as stack:
        assert stack.info is not None
        assert stack.provider is not None
        info, s3 = stack.info, stack.client("s3")
        store = JobStore(stack.clients.table(info.jobs_table))
        # Given AudioLasso refusing connections for a few seconds
        offline = requests.post(
            f"{stack.provider.base_url}/_emulator/offline", json={"seconds": OUTAGE_SECONDS}, timeout=5
        )
        offline.raise_for_status()
        started = time.monotonic()

        # When three files are dropped into the input bucket during the outage
        keys = [f"{info.parameters['InputPrefix']}take-{n}.wav" for n in range(3)]
        for key in keys:
            s3.put_object(Bucket=info.input_bucket, Key=key, Body=pcm_wav(), ContentType="audio/wav")

        # Then each completes soon after AudioLasso is back, not after the queue's visibility timeout
        def rows() -> list | None:
            found = [store.find_by_source(info.input_bucket, key) for key in keys]
            done = all(jobs and jobs[0].status is Status.COMPLETED for jobs in found)
            return [jobs[0] for jobs in found] if done else None

        completed = wait_until(rows, timeout=BOUND_SECONDS)
        assert time.monotonic() - started < BOUND_SECONDS
        # And the rows show the failed attempts and their cause
        assert all(row.attempts >= 2 for row in completed), [row.attempts for row in completed]
        assert {row.last_cause for row in completed} == {"AudioLasso unreachable: connection refused"}
        assert int(EMULATOR_RETRY_MAX_DELAY_SECONDS) < OUTAGE_SECONDS
