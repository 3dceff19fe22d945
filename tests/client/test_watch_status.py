"""watch_status: the status stream followed for a bounded time (collect's first check without webhooks)."""

from lassodrop.audiolasso import AudioLassoClient
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import pcm_wav

from .helpers import Opener


def _submit(client: AudioLassoClient) -> str:
    data = pcm_wav()
    upload = client.upload("a.wav", "audio/wav", len(data), Opener(data))
    return client.submit("isolate the drums", file_id=upload.file_id).request_id


def _stream_connections(emulator: EmulatorServer) -> int:
    return sum(1 for record in emulator.state.requests if record.route == "stream")


def test_a_job_that_ends_within_the_watch_is_returned_with_its_terminal_status(
    client: AudioLassoClient, emulator: EmulatorServer
) -> None:
    emulator.state.set_timings(queue_seconds=0.1, run_seconds=0.2)
    request_id = _submit(client)

    seen = client.watch_status(request_id, seconds=30)

    assert seen is not None
    assert seen.status == "COMPLETED"
    # The opening status, then one reopening after IN_QUEUE -> IN_PROGRESS: never one per event.
    assert _stream_connections(emulator) <= 2


def test_a_job_outliving_the_watch_gives_back_its_last_status_at_the_deadline(
    client: AudioLassoClient, emulator: EmulatorServer
) -> None:
    # The stream sends nothing while the job runs: only the read timeout can end this watch.
    emulator.state.set_timings(queue_seconds=0, run_seconds=60)
    request_id = _submit(client)
    now = [0.0]

    def clock() -> float:
        # Each look at the clock moves it on, so the deadline is met without this test waiting on it.
        now[0] += 0.4
        return now[0]

    seen = client.watch_status(request_id, seconds=1.0, clock=clock)

    assert seen is not None
    assert seen.status == "IN_PROGRESS"
    assert _stream_connections(emulator) == 1


def test_a_watch_with_no_time_left_reads_nothing(client: AudioLassoClient, emulator: EmulatorServer) -> None:
    request_id = _submit(client)

    assert client.watch_status(request_id, seconds=0) is None
    assert _stream_connections(emulator) == 0


def test_a_stream_the_service_closes_early_is_reopened_a_bounded_number_of_times(
    client: AudioLassoClient, emulator: EmulatorServer
) -> None:
    # The service's own bound closes each stream at once, before the job's end.
    emulator.state.set_timings(queue_seconds=0, run_seconds=60, stream_max_seconds=0)
    request_id = _submit(client)

    seen = client.watch_status(request_id, seconds=30)

    assert seen is not None
    assert seen.status == "IN_PROGRESS"
    assert _stream_connections(emulator) == 5
