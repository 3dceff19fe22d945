"""A Ctrl-C while `lassodrop run` is still uploading: what was sent stays, nothing more is sent."""

import threading
from types import SimpleNamespace

from lassodrop_local.runner.cli import Ending, _upload_and_follow
from lassodrop_local.runner.demo import write_tone
from lassodrop_local.runner.inputs import Input


class CtrlCDuringUpload:
    """An S3 client whose first upload is interrupted by Ctrl-C (which sets the run's stop flag)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.keys: list[str] = []

    def upload_file(self, path: str, bucket: str, key: str, ExtraArgs: dict) -> None:
        self.keys.append(key)
        self.stop.set()


def test_ctrl_c_during_the_uploads_uploads_no_further_file(tmp_path, capsys):
    # Given two files and a Ctrl-C while the first one uploads
    stop = threading.Event()
    s3 = CtrlCDuringUpload(stop)
    stack = SimpleNamespace(
        info=SimpleNamespace(parameters={"InputPrefix": "in/"}, input_bucket="bucket"), client=lambda _: s3
    )
    inputs = [Input(name, write_tone(tmp_path / name)) for name in ("a.wav", "b.wav")]
    args = SimpleNamespace(prompt=None, timeout=60.0)

    # When the run uploads them
    progress, ending = _upload_and_follow(stack, inputs, args, stop)

    # Then the first is in S3, the second was never sent, and the run ends as interrupted
    assert ending is Ending.INTERRUPTED
    assert s3.keys == ["in/a.wav"]
    assert [item.status() for item in progress] == ["NOT STARTED", "NOT UPLOADED"]
    assert capsys.readouterr().out.splitlines() == ["a.wav  uploading", "a.wav  uploaded"]
