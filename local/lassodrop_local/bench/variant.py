"""One measured run of one variant: `python -m lassodrop_local.bench.variant SPEC_JSON`.

Always a fresh interpreter, so its peak RSS is this variant's alone; the VariantResult is the last line it
prints. Python variants report VmHWM from /proc/self/status, the high-water mark of this process's own memory
(interpreter and imports included: a Lambda pays for those too). Not getrusage's ru_maxrss: Linux carries it
over from the parent across fork and exec, so a child of a 300 MiB process reports at least 300 MiB.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import requests
from boto3.s3.transfer import TransferConfig

from lassodrop_local.bench.objects import generated_blocks, object_seed, s3_client
from lassodrop_local.bench.spec import (
    CURL,
    DOWNLOAD_FILE,
    GET_ALONE,
    IMPORTS_ONLY,
    PUT_ALONE,
    READ_ALL,
    RELAY,
    RELAY_RAW_STREAM,
    RELAY_SMALL_BLOCKS,
    STEM_COUNT,
    STEMS_AT_ONCE,
    STEMS_IN_TURN,
    VariantResult,
    VariantSpec,
)

if TYPE_CHECKING:
    from lassodrop.collect.outputs import StoredOutput
    from lassodrop.ingest.relay import S3Objects

# moto answers every ranged GET by reading the whole object, so boto3's default 8 MiB concurrent ranges
# would measure moto (and multiply its memory), not the variant: download_file gets one streamed GET.
_SINGLE_GET = TransferConfig(multipart_threshold=2**40, use_threads=False)
_GNU_TIME = "/usr/bin/time"
# The block size the GET-alone baseline reads in: the relay's default.
GET_BLOCK_SIZE = 1024 * 1024


def _peak_rss_self() -> int:
    match = re.search(r"^VmHWM:\s+(\d+) kB$", Path("/proc/self/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError("no VmHWM in /proc/self/status: peak RSS needs Linux")
    return int(match.group(1)) * 1024


def _cpu_seconds() -> float:
    """User + system time of this process, every thread included (the stem copies run in threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    """Wall and CPU time from the start of the transfer, so set-up (clients, files) counts in neither."""

    def __init__(self) -> None:
        self.cpu = _cpu_seconds()
        self.wall = time.perf_counter()

    def result(self, nbytes: int, file_id: str | None = None, sha256: str | None = None) -> VariantResult:
        seconds = time.perf_counter() - self.wall
        cpu = _cpu_seconds() - self.cpu
        return VariantResult(
            nbytes, seconds, _peak_rss_self(), "VmHWM of /proc/self/status", file_id, cpu, sha256
        )


def _put(spec: VariantSpec, body: bytes | BinaryIO, session: requests.Session | None = None) -> None:
    assert spec.upload_url is not None
    with session or requests.Session() as http:
        response = http.put(
            spec.upload_url, data=body, headers=spec.upload_headers, timeout=spec.timeout_seconds
        )
        response.raise_for_status()


def read_all_then_put(spec: VariantSpec) -> VariantResult:
    s3 = s3_client(spec.s3_endpoint)
    clock = _Clock()
    data = s3.get_object(Bucket=spec.bucket, Key=spec.key)["Body"].read()
    _put(spec, data)
    return clock.result(len(data))


def download_file_then_put(spec: VariantSpec) -> VariantResult:
    s3 = s3_client(spec.s3_endpoint)
    with tempfile.TemporaryDirectory(prefix="lassodrop-bench-") as directory:
        path = Path(directory) / "object"
        clock = _Clock()
        s3.download_file(spec.bucket, spec.key, str(path), Config=_SINGLE_GET)
        with path.open("rb") as file:
            _put(spec, file)  # requests sizes a real file itself: Content-Length, not chunked
        return clock.result(path.stat().st_size)


def get_alone(spec: VariantSpec) -> VariantResult:
    """The GET half of a relay: StreamingBody.read in 1 MiB blocks, to nowhere (no digest: that costs CPU)."""
    s3 = s3_client(spec.s3_endpoint)
    clock = _Clock()
    body = s3.get_object(Bucket=spec.bucket, Key=spec.key)["Body"]
    received = 0
    with body:
        while block := body.read(GET_BLOCK_SIZE):
            received += len(block)
    return clock.result(received)


def put_alone(spec: VariantSpec) -> VariantResult:
    """The PUT half of a relay: a local file with the object's bytes, written before the clock starts.

    Sent through the relay's own requests session, which has urllib3 send in `block_size` blocks: with
    urllib3's default 16 KiB blocks this half measured slower than the whole relay (171 against 255 MiB/s
    at 500 MB), so it would not be a limit.
    """
    from lassodrop.audiolasso.upload import signed_url_session

    session = signed_url_session(spec.block_size, "lassodrop-bench")
    with tempfile.TemporaryDirectory(prefix="lassodrop-bench-") as directory:
        path = Path(directory) / "object"
        with path.open("wb") as file:
            for block in generated_blocks(spec.size, object_seed(spec.size)):
                file.write(block)
        with path.open("rb") as file:
            clock = _Clock()
            _put(spec, file, session)  # requests sets Content-Length from the file's size
            return clock.result(spec.size)


def imports_only(spec: VariantSpec) -> VariantResult:
    """What the relay's process holds before it moves a byte: this module's imports and the relay's.

    The relay's clients (botocore's S3 model among them) are left out on purpose: they are part of what
    the relay costs, not of the interpreter it runs in.
    """
    # Imported for their memory alone.
    import lassodrop.audiolasso.client
    import lassodrop.ingest.relay  # noqa: F401

    del spec
    return _Clock().result(0)


def stems_at_once(spec: VariantSpec) -> VariantResult:
    """Two stems copied concurrently, as collect's _copy_stems does (same pool, same copy_output)."""

    def copy_all(copy: Callable[[str], StoredOutput]) -> list[StoredOutput]:
        with ThreadPoolExecutor(max_workers=STEM_COUNT, thread_name_prefix="stem") as pool:
            return list(pool.map(copy, _stem_names()))

    return _copy_stems_with(spec, copy_all)


def stems_in_turn(spec: VariantSpec) -> VariantResult:
    """The same two copies one after the other: the baseline the concurrent copy is judged against."""
    return _copy_stems_with(spec, lambda copy: [copy(name) for name in _stem_names()])


def _stem_names() -> list[str]:
    return [f"stem-{number}" for number in range(STEM_COUNT)]


def _copy_stems_with(
    spec: VariantSpec, copy_all: Callable[[Callable[[str], StoredOutput]], list[StoredOutput]]
) -> VariantResult:
    """Each stem is the benchmark object, served by moto's S3 through a presigned GET on 127.0.0.1.

    The copies land under a prefix of their own and are deleted once measured, so moto does not keep them.
    """
    from lassodrop.audiolasso.client import AudioLassoClient
    from lassodrop.audiolasso.models import Output
    from lassodrop.collect.outputs import (
        OutputLayout,
        OutputTarget,
        copy_output,
        stem_format,
        transfer_config,
    )

    s3 = s3_client(spec.s3_endpoint)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": spec.bucket, "Key": spec.key}, ExpiresIn=3600
    )
    output = Output(url=url, content_type=spec.content_type, file_name="stem.wav")
    where = OutputTarget(
        bucket=spec.bucket,
        layout=OutputLayout(f"bench-stems/{spec.size}/"),
        max_bytes=spec.size,
        config=transfer_config(),
    )
    with AudioLassoClient(spec.api_key, spec.emulator_url, allow_local=True, max_retries=0) as api:

        def copy(name: str) -> StoredOutput:
            return copy_output(api, s3, name, output, stem_format(output), where)

        clock = _Clock()
        stored = copy_all(copy)
        digests = {stem.sha256 for stem in stored}
        result = clock.result(
            sum(stem.size for stem in stored), sha256=digests.pop() if len(digests) == 1 else ""
        )
    for stem in stored:
        s3.delete_object(Bucket=stem.bucket, Key=stem.key)
    return result


def curl_relay(spec: VariantSpec) -> VariantResult:
    """`curl GET | curl -T - PUT`: the fastest relay this machine can do without Python in the path.

    `curl -T -` alone sends `Transfer-Encoding: chunked` (it cannot size stdin), which the signed URL
    refuses with 411. Adding `Content-Length: N` is not enough: curl 7.88 then sends both headers and still
    chunk-encodes the body (411 again). An empty `Transfer-Encoding:` header removes curl's own, and with it
    the chunk encoding, so the body goes raw with the exact length. `--data-binary @-` would work but reads
    all of stdin into memory first: a read-all baseline, not a relay. `Expect:` skips the 100-continue wait.
    """
    assert spec.upload_url is not None
    get_url = s3_client(spec.s3_endpoint).generate_presigned_url(
        "get_object", Params={"Bucket": spec.bucket, "Key": spec.key}, ExpiresIn=3600
    )
    limit = ["--silent", "--show-error", "--fail", "--max-time", str(int(spec.timeout_seconds))]
    headers = [f"Content-Length: {spec.size}", "Transfer-Encoding:", "Expect:"]
    headers += [f"{name}: {value}" for name, value in spec.upload_headers.items()]
    put = ["curl", *limit, "--upload-file", "-", "--output", "/dev/null", spec.upload_url]
    for header in headers:
        put += ["--header", header]
    with tempfile.TemporaryDirectory(prefix="lassodrop-bench-") as directory:
        get_report, put_report = Path(directory, "get"), Path(directory, "put")
        # Both curls' CPU from RUSAGE_CHILDREN (GNU time, and the curl it waits for, count once waited
        # for) rather than GNU time's %U %S, which round to 10 ms: a small object's curls would read 0.
        cpu_before = _children_cpu_seconds()
        started = time.perf_counter()
        _run_pipeline(
            _timed(get_report, ["curl", *limit, "--output", "-", get_url]), _timed(put_report, put), spec
        )
        seconds = time.perf_counter() - started
        cpu = _children_cpu_seconds() - cpu_before
        # Both curls run at once, so the pair's peak is at most the sum of their own peaks.
        peak = _peak_kib(get_report) * 1024 + _peak_kib(put_report) * 1024
    return VariantResult(
        spec.size, seconds, peak, "sum of both curls' peak RSS from GNU time %M", cpu_seconds=cpu
    )


def _timed(report: Path, command: list[str]) -> list[str]:
    """Run `command` under GNU time, which writes its peak RSS (KiB) to `report`.

    time reaps curl with wait4(); curl's ru_maxrss then starts from time's own few hundred KiB instead of
    this interpreter's tens of MiB (Linux carries ru_maxrss across fork and exec).
    """
    if not Path(_GNU_TIME).exists():
        raise RuntimeError(f"the curl relay needs GNU time at {_GNU_TIME} to measure curl's peak RSS")
    return [_GNU_TIME, "--format", "%M", "--output", str(report), *command]


def _run_pipeline(first: list[str], second: list[str], spec: VariantSpec) -> None:
    """`first | second`, both in one new process group so a timeout can stop both, curls included."""
    getter = subprocess.Popen(first, stdout=subprocess.PIPE, process_group=0)
    putter = subprocess.Popen(
        second, stdin=getter.stdout, stdout=subprocess.DEVNULL, process_group=getter.pid
    )
    assert getter.stdout is not None
    getter.stdout.close()  # the putter holds the read end now; the getter sees EPIPE if the putter dies
    deadline = time.monotonic() + spec.timeout_seconds
    try:
        codes = [process.wait(timeout=max(deadline - time.monotonic(), 0)) for process in (getter, putter)]
    except subprocess.TimeoutExpired:
        os.killpg(getter.pid, signal.SIGKILL)
        getter.wait()
        putter.wait()
        raise
    if any(codes):
        raise RuntimeError(f"curl relay failed: exit codes {codes}")


def _peak_kib(report: Path) -> int:
    # GNU time puts "Command exited with non-zero status N" first when the command failed.
    return int(report.read_text().split()[-1])


def lassodrop_relay(spec: VariantSpec) -> VariantResult:
    """The relay ingest runs (lassodrop.ingest.relay.relay), pinned to the object's ETag as ingest pins it."""
    # Imported here so the baselines' peak RSS does not carry lassodrop's imports (Powertools among them).
    from lassodrop.ingest.relay import S3Objects

    return _relay_with(spec, S3Objects(s3_client(spec.s3_endpoint)))


def raw_stream_relay(spec: VariantSpec) -> VariantResult:
    """The same relay reading botocore's private `_raw_stream` under the StreamingBody, as it once did.

    Only here, to show what the public `StreamingBody.read(n)` costs; the functions never use the private one.
    """
    from lassodrop.ingest.relay import PinnedObject, S3Objects, S3Source

    class RawStreamSource(S3Source):
        def read(self, size: int = -1) -> bytes:
            raw = self._body._raw_stream
            block = raw.read(size) if size >= 0 else raw.read()
            self.bytes_read += len(block)
            return bytes(block)

    class RawStreamObjects(S3Objects):
        def open(self, obj: PinnedObject) -> S3Source:
            return RawStreamSource(super().open(obj)._body)

    return _relay_with(spec, RawStreamObjects(s3_client(spec.s3_endpoint)))


def _relay_with(spec: VariantSpec, objects: S3Objects) -> VariantResult:
    from lassodrop.audiolasso.client import AudioLassoClient
    from lassodrop.ingest.relay import PinnedObject, relay

    head = objects.head(PinnedObject(spec.bucket, spec.key))
    pinned = PinnedObject(spec.bucket, spec.key, version_id=head.version_id, etag=head.etag)
    client = AudioLassoClient(
        spec.api_key, spec.emulator_url, allow_local=True, max_retries=0, block_size=spec.block_size
    )
    clock = _Clock()
    result = relay(client, objects, pinned, content_type=spec.content_type, size=head.size)
    return clock.result(result.bytes_sent, result.upload.file_id)


_RUNNERS: dict[str, Callable[[VariantSpec], VariantResult]] = {
    RELAY: lassodrop_relay,
    RELAY_SMALL_BLOCKS: lassodrop_relay,
    RELAY_RAW_STREAM: raw_stream_relay,
    READ_ALL: read_all_then_put,
    DOWNLOAD_FILE: download_file_then_put,
    CURL: curl_relay,
    GET_ALONE: get_alone,
    PUT_ALONE: put_alone,
    IMPORTS_ONLY: imports_only,
    STEMS_AT_ONCE: stems_at_once,
    STEMS_IN_TURN: stems_in_turn,
}


def main(argv: list[str]) -> int:
    spec = VariantSpec.from_json(argv[0])
    result = _RUNNERS[spec.variant](spec)
    print(result.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
