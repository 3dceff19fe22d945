"""What `lassodrop run` takes: its files and its output folder, checked before anything starts."""

import shlex
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LOG_NAME = "lassodrop-run.log"


class UsageError(ValueError):
    """A command line that cannot run; the message says what to change."""


@dataclass(frozen=True)
class Input:
    """A file to upload, by the name it gets in the bucket (also its output folder's name)."""

    name: str
    path: Path


def input_files(files: Sequence[Path], file_list: str | None, out: Path) -> list[Input]:
    """The files to upload, from the arguments and from `--file-list` (shell words, as `make run` passes
    them), refused with a reason when one is not a file or their outputs cannot each have a folder."""
    paths = [*files, *(Path(word) for word in _words(file_list))]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise UsageError(f"not a file: {', '.join(missing)}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; name a folder (it is made if missing)")
    inputs = [Input(path.name, path) for path in paths]
    _refuse_shared_names(inputs, out)
    for item in inputs:
        _refuse_unusable_folder(item, out)
    return inputs


def _words(file_list: str | None) -> list[str]:
    try:
        return shlex.split(file_list or "")
    except ValueError as exc:  # shlex's only error: an unclosed quote or a trailing backslash
        raise UsageError(f"--file-list {file_list!r}: {exc}") from None


def _refuse_shared_names(inputs: Sequence[Input], out: Path) -> None:
    by_name: defaultdict[str, list[str]] = defaultdict(list)
    for item in inputs:
        by_name[item.name].append(str(item.path))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    if shared:
        clashes = "; ".join(f"{name} ({', '.join(paths)})" for name, paths in shared.items())
        raise UsageError(
            f"files share a name, and so an output folder under {out}/: {clashes}; rename or copy one of them"
        )
    if LOG_NAME in by_name:
        raise UsageError(f"{LOG_NAME} is the name of the run's own log under {out}/; rename the file")


def _refuse_unusable_folder(item: Input, out: Path) -> None:
    folder = out / item.name
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, where the outputs of {item.path} go; choose another --out")
    if folder.is_dir() and item.path.resolve().is_relative_to(folder.resolve()):
        raise UsageError(f"{item.path} lies in {folder}, which the run clears for its outputs; move it first")


def clear_output_folder(out: Path, name: str) -> None:
    """Remove OUT/<name>/: what an earlier run left there must not pass for this run's outputs (a file this
    run rejects gets no folder at all)."""
    folder = out / name
    if folder.is_symlink():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(folder)
