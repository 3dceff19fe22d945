"""Fixtures for the AudioLasso client tests: a client of the emulator, its delays recorded by `sleeps`."""

from collections.abc import Iterator

import pytest

from lassodrop.audiolasso import AudioLassoClient
from lassodrop_local.emulator import EmulatorServer

from .helpers import CountingSession


@pytest.fixture
def session() -> CountingSession:
    return CountingSession()


@pytest.fixture
def client(
    emulator: EmulatorServer, api_key: str, sleeps: list[float], session: CountingSession
) -> Iterator[AudioLassoClient]:
    """A client of the emulator whose API calls are counted by `session` and whose delays are recorded."""
    with AudioLassoClient(
        api_key, emulator.base_url, allow_local=True, session=session, timeout=(2.0, 10.0)
    ) as client:
        yield client
