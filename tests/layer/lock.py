"""The layer's lock, shared/requirements.txt (written by `make lock`), read as its entries."""

from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lassodrop_local.template import REPO_ROOT

LOCK = REPO_ROOT / "shared" / "requirements.txt"


@dataclass(frozen=True)
class Locked:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> str:
        (specifier,) = self.requirement.specifier
        return specifier.version


def read_lock() -> dict[str, Locked]:
    """Entries by canonical name: each is a `name==version \\` line and its `--hash=` continuations."""
    text = "\n".join(line.split("#")[0].rstrip() for line in LOCK.read_text().splitlines())
    entries = [entry.split() for entry in text.replace("\\\n", " ").splitlines() if entry.strip()]
    locked = {}
    for requirement, *options in entries:
        parsed = Requirement(requirement)
        hashes = tuple(option.removeprefix("--hash=") for option in options if option.startswith("--hash="))
        locked[canonicalize_name(parsed.name)] = Locked(parsed, hashes)
    return locked
