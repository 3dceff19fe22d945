"""The SAM CLI's own checks, offline: a clean environment with a region and fake credentials suffices."""

import os
import subprocess
from pathlib import Path

import pytest

from lassodrop_local.template import REPO_ROOT, TEMPLATE_PATH

pytestmark = pytest.mark.slow


def _sam_cli() -> str:
    return os.environ.get("SAM_CLI") or str(REPO_ROOT / ".venv-sam" / "bin" / "sam")


def _run_sam(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAM_CLI_TELEMETRY": "0",
    }
    return subprocess.run(
        [_sam_cli(), *args, "--template-file", str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sam_cli_is_installed() -> None:
    assert Path(_sam_cli()).is_file(), f"SAM CLI not found at {_sam_cli()}: run `make install` or set SAM_CLI"


@pytest.mark.parametrize("extra", [(), ("--lint",)], ids=["validate", "validate-lint"])
def test_sam_validate_accepts_the_template(extra: tuple[str, ...], tmp_path: Path) -> None:
    # When the SAM CLI validates the template
    result = _run_sam("validate", *extra, home=tmp_path)

    # Then it reports a valid template
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
