"""The layer as `sam build` makes it: the locked closure, for arm64, running a handler on python3.13.

What this proves on an x86_64 machine: the build installs exactly the lock; every compiled extension in it is
built for arm64 (AArch64 ELF); and the layer's Python code (with the pure-Python fallbacks that wrapt and
charset-normalizer carry beside their extensions, since an arm64 extension cannot load here) imports on
python3.13 and runs the ingest handler, X-Ray tracer included, with nothing but the built function and layer
on the path. What it cannot prove here: that the arm64 extensions themselves load; on an arm64 machine the
same test loads them and checks that they do.
"""

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from packaging.utils import canonicalize_name

from lassodrop_local.stack import FunctionConfig, clients_for_moto, create_stack
from lassodrop_local.template import REPO_ROOT, TEMPLATE_PATH
from tests.layer.lock import read_lock

pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("probe.py")
EVENT = REPO_ROOT / "events" / "sqs-s3-test-event.json"
ELF_MACHINE_AARCH64 = 183
TRACE_ID = "1-6745a1b2-0123456789abcdef01234567"


def _runs_as_313(candidate: str) -> bool:
    check = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"]
    try:
        return subprocess.run(check, capture_output=True, timeout=30, check=False).returncode == 0
    except OSError:
        return False


def _python313() -> Path:
    """The functions' runtime: $PYTHON313 (the Makefile sets it), python3.13 on PATH, or pyenv's."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [os.environ.get("PYTHON313"), shutil.which("python3.13")]
    candidates += [str(path) for path in sorted(pyenv_root.glob("versions/3.13*/bin/python3.13"))]
    for candidate in filter(None, candidates):
        if _runs_as_313(candidate):
            return Path(candidate).resolve()
    pytest.fail(
        "python3.13 (the functions' runtime) is needed to build and run the layer: put it on PATH, "
        "install it with `pyenv install 3.13`, or set PYTHON313"
    )


@pytest.fixture(scope="module")
def python313() -> Path:
    return _python313()


@pytest.fixture(scope="module")
def build_dir(python313: Path) -> Path:
    """`sam build --cached` of template.yaml into its usual place, .aws-sam/build.

    There, beside the build.toml that records what was built, an unchanged lock is not installed again: only a
    build that installs it (the first, or one after `make lock`) runs pip, in hash-checking mode for the
    closure it resolves from the lock. The arm64 wheels that replace this machine's compiled ones (wrapt,
    charset-normalizer) are fetched by the SAM CLI one by one with --no-deps, outside the lock, so pip does
    not check their hashes; their versions and architecture are what the tests below check.
    """
    sam = os.environ.get("SAM_CLI") or str(REPO_ROOT / ".venv-sam" / "bin" / "sam")
    assert Path(sam).is_file(), f"SAM CLI not found at {sam}: run `make test` or set SAM_CLI"
    environment = {
        **os.environ,
        # Without a container, sam build runs the python3.13 it finds first on PATH.
        "PATH": f"{python313.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "SAM_CLI_TELEMETRY": "0",
    }
    command = [sam, "build", "--template-file", str(TEMPLATE_PATH), "--cached"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return REPO_ROOT / ".aws-sam" / "build"


def _layer(build_dir: Path) -> Path:
    return build_dir / "SharedLayer" / "python"


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def test_the_built_layer_holds_exactly_the_locked_distributions(build_dir: Path) -> None:
    installed = {}
    for dist_info in _layer(build_dir).glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[canonicalize_name(name)] = version

    assert installed == {name: entry.version for name, entry in read_lock().items()}


def test_every_compiled_extension_in_the_layer_is_built_for_arm64(build_dir: Path) -> None:
    extensions = sorted(_layer(build_dir).rglob("*.so"))

    assert extensions, "the locked closure has compiled extensions (wrapt, charset-normalizer)"
    assert {path.name: _elf_machine(path) for path in extensions} == dict.fromkeys(
        (path.name for path in extensions), ELF_MACHINE_AARCH64
    )


@pytest.fixture(scope="module")
def ingest_function() -> FunctionConfig:
    """The ingest function as template.yaml's stack (built in moto) configures it."""
    with mock_aws():
        return create_stack(clients_for_moto()).functions["IngestFunction"]


@pytest.fixture(scope="module")
def probe_report(
    build_dir: Path,
    python313: Path,
    ingest_function: FunctionConfig,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The built ingest handler run on the S3 test event by python3.13, in its template environment."""
    function_dir = build_dir / "IngestFunction"
    environment = {
        **ingest_function.environment,
        "PATH": "/usr/bin:/bin",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": "IngestFunction",
        # What Lambda sets: the tracer turns itself on inside Lambda only, and joins the invocation's trace.
        "LAMBDA_TASK_ROOT": str(function_dir),
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1",
    }
    out = tmp_path_factory.mktemp("probe") / "report.json"
    # -I -S: no site-packages, no user site, no PYTHON* variables; only the standard library is on the path.
    command = [str(python313), "-I", "-S", str(PROBE), str(function_dir), str(_layer(build_dir))]
    command += [ingest_function.handler, str(EVENT), str(out)]
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(out.read_text()))


def test_the_ingest_handler_runs_from_the_built_function_and_layer_alone(
    build_dir: Path, probe_report: dict[str, Any]
) -> None:
    layer, function = _layer(build_dir).resolve(), (build_dir / "IngestFunction").resolve()
    origins: dict[str, list[str]] = probe_report["origins"]

    # The handler answered the S3 test event with no failures, on the runtime's Python
    assert probe_report["result"] == {"batchItemFailures": []}
    assert probe_report["python"] == [3, 13]
    # Every package the layer ships imported, and every module came from the function, layer or stdlib
    assert probe_report["imported"] == sorted(probe_report["imported"])
    assert {"boto3", "botocore", "s3transfer", "aws_xray_sdk", "lassodrop"} <= set(probe_report["imported"])
    assert "elsewhere" not in origins, origins.get("elsewhere")
    assert f"{function}/app.py" in origins[str(function)]
    for package in ("boto3", "botocore", "s3transfer"):
        assert f"{layer}/{package}/__init__.py" in origins[str(layer)]


def test_the_tracer_in_the_layer_sends_the_handlers_segment(probe_report: dict[str, Any]) -> None:
    segments = [segment for segment in probe_report["segments"] if segment["name"] == "## lambda_handler"]

    assert len(segments) == 1
    assert segments[0]["trace_id"] == TRACE_ID
    assert "error" not in segments[0]
    assert "fault" not in segments[0]


def test_arm64_extensions_load_only_on_arm64(build_dir: Path, probe_report: dict[str, Any]) -> None:
    layer = str(_layer(build_dir).resolve())
    loaded = {Path(path).name for path in probe_report["origins"][layer] if path.endswith(".so")}
    on_arm64 = platform.machine() in ("aarch64", "arm64")

    # An x86_64 interpreter never sees an aarch64 file name, so the pure-Python fallbacks ran instead
    assert loaded == ({path.name for path in _layer(build_dir).rglob("*.so")} if on_arm64 else set())
