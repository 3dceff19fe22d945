"""An input whose output keys S3 would refuse is rejected before anything is spent on it."""

from typing import Any

import pytest

from lassodrop.jobs import Status
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.ingest.conftest import Stack

OUTPUT_PREFIX = "separated/"
# What collect appends after the version folder at most: the residual with a four-letter extension.
LONGEST_NAME = "/residual.aiff"


def longest_output_key_bytes(key: str, version_id: str) -> int:
    """The documented layout, counted independently of the code: <prefix><key>/<version>/residual.<ext>."""
    return len(f"{OUTPUT_PREFIX}{key}/{version_id}{LONGEST_NAME}".encode())


def test_an_input_whose_output_keys_exceed_the_s3_limit_is_rejected_before_any_audiolasso_call(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer
) -> None:
    # Given a 1,007-byte key (two bytes per "é"): a valid input key, too long with the outputs' parts added
    ingest = make_ingest(OUTPUT_PREFIX=OUTPUT_PREFIX)
    ingest.count_get_object()
    key = "long/" + "é" * 499 + ".wav"
    assert len(key.encode()) == 1007
    put = stack.drop(key, riff_blob(4096), ContentType="audio/wav")

    # When its notification is delivered
    response = ingest(stack.receive_ingest())

    # Then the row is REJECTED naming the byte length and the limit, and nothing reached AudioLasso
    assert response == {"batchItemFailures": []}
    [row] = stack.rows()
    assert row.status is Status.REJECTED
    assert row.error is not None
    assert row.error.code == "KEY_TOO_LONG"
    expected = longest_output_key_bytes(key, put["VersionId"])
    assert f"{expected} bytes" in (row.reason or "")
    assert "1024 bytes" in (row.reason or "")
    assert emulator.state.requests == []
    assert ingest.get_object_calls == []
    assert stack.check_messages() == []


@pytest.mark.parametrize(("extra_bytes", "status"), [(0, Status.SUBMITTED), (1, Status.REJECTED)])
def test_the_limit_is_exactly_s3s_1024_bytes_of_the_longest_output_key(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer, extra_bytes: int, status: Status
) -> None:
    # Given a key sized so that its longest output key is 1,024 bytes (or one more)
    ingest = make_ingest(OUTPUT_PREFIX=OUTPUT_PREFIX)
    probe = stack.drop("probe.wav", riff_blob(64), ContentType="audio/wav")  # to learn moto's version ids
    stack.receive_ingest()  # its notification is taken off the queue, never handled
    room = 1024 + extra_bytes - longest_output_key_bytes("", probe["VersionId"]) - len(".wav")
    key = "é" * (room // 2) + "x" * (room % 2) + ".wav"
    put = stack.drop(key, riff_blob(4096), ContentType="audio/wav")
    assert longest_output_key_bytes(key, put["VersionId"]) == 1024 + extra_bytes

    # When it is ingested
    ingest(stack.receive_ingest())

    # Then only the key one byte over the limit is refused
    [row] = stack.rows()
    assert row.status is status
    assert len(emulator.state.submissions) == (1 if status is Status.SUBMITTED else 0)
