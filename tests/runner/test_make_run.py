"""`make run FILES=... PROMPT=...` hands names and prompts to `lassodrop run` exactly as they were typed."""

import json
import shlex
import subprocess
from pathlib import Path

from lassodrop_local.cli import build_parser
from lassodrop_local.runner.inputs import input_files

REPO = Path(__file__).resolve().parents[2]
# Stands in for .venv/bin/lassodrop: prints the arguments make gave it.
FAKE_LASSODROP = "#!/bin/sh\nexec python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \"$@\"\n"


def make_run(tmp_path: Path, *variables: str) -> list[str]:
    """The arguments `make run` passes to lassodrop, with a stand-in lassodrop (and no venv build)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lassodrop").write_text(FAKE_LASSODROP)
    (bin_dir / "lassodrop").chmod(0o755)
    # -o: take the venv as built, whatever its age.
    command = ["make", "--no-print-directory", "-s", "-o", ".venv/.installed", "run", f"BIN={bin_dir}"]
    done = subprocess.run(
        [*command, *variables], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_names_with_spaces_and_quotes_and_a_prompt_with_shell_characters_arrive_intact(tmp_path):
    # Given files whose names have spaces, quotes and shell characters, and such a prompt
    names = ["my song.wav", 'it\'s "live" $HOME `id`.wav', "plain.wav"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    # quoted as in a shell: "my song.wav" in double quotes, the others as shlex.quote writes them
    quoted = [f'"{tmp_path / names[0]}"', *(shlex.quote(str(tmp_path / name)) for name in names[1:])]
    prompt = 'isolate the "lead" vocal\'s $(HOME) # `id` $$'

    # When make runs with FILES as shell words and PROMPT as typed
    argv = make_run(tmp_path, f"FILES={' '.join(quoted)}", f"PROMPT={prompt}")

    # Then lassodrop receives every name whole and the prompt unchanged
    args = build_parser(["run"]).parse_args(argv)
    assert [item.name for item in input_files(args.files, args.file_list, tmp_path / "out")] == names
    assert args.prompt == prompt


def test_without_files_or_prompt_make_run_uploads_the_demo_with_the_default_prompt(tmp_path):
    argv = make_run(tmp_path)

    args = build_parser(["run"]).parse_args(argv)
    assert input_files(args.files, args.file_list, tmp_path / "out") == []
    assert args.prompt is None
