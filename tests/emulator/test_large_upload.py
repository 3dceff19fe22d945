"""A large upload is streamed to disk: the emulator's memory does not grow with the file."""

import hashlib
import tracemalloc
from pathlib import Path

import pytest
import requests

from lassodrop_local.emulator import EmulatorServer
from tests.emulator.helpers import create_upload

SIZE = 200 * 1024 * 1024
PEAK_LIMIT = 16 * 1024 * 1024


def zeros_sha256(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(1024 * 1024)
    for _ in range(size // len(block)):
        digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
def test_200_mb_upload_is_hashed_and_stored_without_holding_it_in_memory(
    emulator: EmulatorServer, api_key: str, tmp_path: Path
) -> None:
    source = tmp_path / "big.wav"
    with source.open("wb") as sparse:
        sparse.truncate(SIZE)
    upload = create_upload(emulator, api_key, SIZE)

    tracemalloc.start()
    try:
        with source.open("rb") as body:
            answer = requests.put(upload["upload_url"], data=body, headers=upload["headers"], timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answer.status_code == 200
    [record] = emulator.state.uploads
    assert record.size == SIZE
    assert record.sha256 == zeros_sha256(SIZE)
    assert peak < PEAK_LIMIT, f"peak traced memory {peak} bytes"
