"""`make deploy`: the project's SAM CLI with the runtime's Python first on PATH, or a plain message first.

Every run here stops before the SAM CLI could reach AWS: the SAM CLI is a stand-in that records its calls.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "make"
# Records each call: its arguments, then the directory PATH starts with.
FAKE_SAM = '#!/bin/sh\necho "$* | ${PATH%%:*}" >> "${0%/*}/calls.txt"\n'
MISSING = (
    "python3.13, the functions' runtime, is needed to build them and was found neither on PATH nor in pyenv"
)


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def make_deploy(*arguments: str, path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`make deploy` with the SAM CLI's venv taken as built (-o), and none of the caller's make variables or
    Pythons: make test runs this with PYTHON313 in the environment and its own flags in MAKEFLAGS, and PATH is
    only the test's folders, so a python3.13 of this machine's cannot be found instead of the test's. Nothing
    here needs PATH: make and every script are run by their full path."""
    skip = {"PYTHON313", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "PYENV_ROOT", "PYENV_VERSION"}
    env = {name: value for name, value in os.environ.items() if name not in skip}
    path.mkdir(parents=True, exist_ok=True)
    env.update(PATH=str(path), HOME=str(home))
    command = [MAKE, "--no-print-directory", "-o", ".venv-sam/.installed", "deploy", *arguments]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def fake_sam(tmp_path: Path) -> Path:
    return executable(tmp_path / "sam" / "sam", FAKE_SAM)


def sam_calls(fake_sam: Path) -> list[str]:
    calls = fake_sam.with_name("calls.txt")
    return calls.read_text().splitlines() if calls.exists() else []


def test_make_n_deploy_shows_sam_build_and_guided_deploy_with_the_projects_sam(tmp_path):
    python313 = executable(tmp_path / "py313" / "python3.13", "#!/bin/sh\nexit 0\n")

    done = make_deploy("-n", f"PYTHON313={python313}", path=tmp_path / "empty", home=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        f'PATH="{python313.parent}/:$PATH" .venv-sam/bin/sam build',
        f'PATH="{python313.parent}/:$PATH" .venv-sam/bin/sam deploy --guided',
    ]


def test_without_python313_deploy_says_how_to_get_it_and_fails_before_the_sam_cli_runs(tmp_path, fake_sam):
    done = make_deploy("PYTHON313=", f"SAM={fake_sam}", path=tmp_path / "empty", home=tmp_path)

    assert done.returncode != 0
    assert MISSING in done.stderr
    assert "pyenv install 3.13" in done.stderr
    assert "make deploy PYTHON313=/path/to/python3.13" in done.stderr
    assert sam_calls(fake_sam) == []


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="needs an interpreter other than 3.13")
def test_a_python313_that_is_another_version_is_named_and_refused(tmp_path, fake_sam):
    other = f"PYTHON313={sys.executable}"

    done = make_deploy(other, f"SAM={fake_sam}", path=tmp_path / "empty", home=tmp_path)

    assert done.returncode != 0
    assert f"PYTHON313={sys.executable} is Python {sys.version.split()[0]}, not 3.13" in done.stderr
    assert sam_calls(fake_sam) == []


def test_python313_found_on_path_goes_first_on_path_for_both_sam_commands(tmp_path, fake_sam):
    # Given no pyenv, and a python3.13 on PATH that names its real home elsewhere (as a pyenv shim does)
    home = tmp_path / "runtime" / "bin"
    executable(home / "python3.13", "#!/bin/sh\nexit 0\n")
    executable(tmp_path / "shims" / "python3.13", f"#!/bin/sh\necho {home / 'python3.13'}\n")

    # When make deploy runs
    done = make_deploy(f"SAM={fake_sam}", path=tmp_path / "shims", home=tmp_path)

    # Then the SAM CLI builds and deploys with that Python's directory first on PATH
    assert done.returncode == 0, done.stderr
    assert sam_calls(fake_sam) == [f"build | {home}/", f"deploy --guided | {home}/"]


def test_python313_found_in_pyenv_is_used_when_path_has_none(tmp_path, fake_sam):
    # Given a pyenv whose root holds a 3.13, and no python3.13 on PATH
    root = tmp_path / "pyenv"
    python313 = executable(root / "versions" / "3.13.1" / "bin" / "python3.13", "#!/bin/sh\nexit 0\n")
    executable(tmp_path / "bin" / "pyenv", f'#!/bin/sh\n[ "$1" = root ] && echo {root}\n')

    done = make_deploy(f"SAM={fake_sam}", path=tmp_path / "bin", home=tmp_path)

    assert done.returncode == 0, done.stderr
    assert sam_calls(fake_sam) == [f"build | {python313.parent}/", f"deploy --guided | {python313.parent}/"]
