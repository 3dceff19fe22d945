"""The layer's lock (shared/requirements.txt, written by `make lock`) against the runtime pins."""

import tomllib
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lassodrop_local.template import REPO_ROOT
from tests.layer.lock import read_lock

# Where the functions run (template.yaml's Globals): the lock is resolved for this.
RUNTIME_MARKERS = {
    **default_environment(),
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
}


def _project_pins() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(pin) for pin in project["dependencies"]]


def test_every_runtime_pin_is_locked_at_its_project_version() -> None:
    # Given the runtime pins of the project and the layer's lock
    locked = read_lock()

    # Then each pin is in the lock at exactly its version
    for pin in _project_pins():
        assert str(pin.specifier).startswith("=="), f"{pin} is not an exact pin"
        entry = locked.get(canonicalize_name(pin.name))
        assert entry is not None, f"{pin.name} is pinned in pyproject.toml but not locked: run `make lock`"
        assert entry.version == str(pin.specifier).removeprefix("=="), f"{pin}: run `make lock`"


def test_the_layer_ships_boto3_and_its_own_libraries_rather_than_the_runtimes() -> None:
    assert {"boto3", "botocore", "s3transfer"} <= set(read_lock())


def test_every_locked_distribution_is_exact_and_hashed_so_pip_checks_hashes() -> None:
    for name, entry in read_lock().items():
        assert str(entry.requirement.specifier).startswith("=="), name
        assert entry.requirement.marker is None, f"{name}: the lock is for one runtime"
        assert entry.hashes, f"{name} has no --hash: pip would refuse the whole lock"
        assert all(digest.startswith("sha256:") for digest in entry.hashes), name


def test_the_lock_is_exactly_the_closure_of_the_runtime_pins() -> None:
    # Given the lock, and the requirements each locked distribution declares (read from the installed copy,
    # which the next test shows is the locked version)
    locked = read_lock()
    pending = [(pin, frozenset(pin.extras)) for pin in _project_pins()]
    reached: set[str] = set()

    # When following every requirement that applies on the runtime, from the project's pins down
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} (needed on the runtime) is not locked: run `make lock`"
        assert requirement.specifier.contains(locked[name].version, prereleases=True), requirement
        if name in reached:
            continue
        reached.add(name)
        for declared in map(Requirement, metadata.requires(name) or []):
            applies = declared.marker is None or any(
                declared.marker.evaluate({**RUNTIME_MARKERS, "extra": extra}) for extra in extras | {""}
            )
            if applies:
                pending.append((declared, frozenset(declared.extras)))

    # Then everything needed is locked, and nothing else is
    assert reached == set(locked)


def test_the_suite_runs_the_locked_versions() -> None:
    # `make install` installs the lock first, so tests exercise the closure the layer ships.
    installed = {name: metadata.version(name) for name in read_lock()}
    assert installed == {name: entry.version for name, entry in read_lock().items()}
