"""Run inside a built function and layer: `python3.13 -I -S probe.py FUNCTION LAYER HANDLER EVENT OUT`.

Started with -I -S, the interpreter's path holds its standard library alone; the probe puts the function and
the layer in front, as Lambda does (/var/task, then /opt/python), imports every top-level package the layer
ships, invokes the handler on the event and writes what happened to OUT as JSON. It receives the X-Ray
segments the tracer sends (on a loopback UDP port it binds, the address the daemon has in Lambda), so the
X-Ray SDK and the botocore it patches run here too. Nothing in it may import from the project's checkout.
"""

import importlib
import json
import os
import socket
import sys
import sysconfig
from pathlib import Path
from typing import Any

SEGMENT_WAIT_SECONDS = 5.0


class Context:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name = "IngestFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:IngestFunction"
    aws_request_id = "0f5c3f6e-8f4e-4a57-9d5e-1b0c2d3e4f50"
    log_group_name = "/aws/lambda/IngestFunction"
    log_stream_name = "probe"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def top_level_names(layer: Path) -> list[str]:
    packages = (path.name for path in layer.iterdir() if (path / "__init__.py").is_file())
    modules = (path.stem for path in layer.glob("*.py"))
    return sorted({*packages, *modules})


def origins(roots: list[str]) -> dict[str, list[str]]:
    """Every loaded module's file, sorted by the root it lies under ("elsewhere" for none)."""
    found: dict[str, list[str]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path) != os.path.realpath(__file__):
            root = next(
                (root for root in roots if os.path.realpath(path).startswith(root + os.sep)), "elsewhere"
            )
            found.setdefault(root, []).append(os.path.realpath(path))
    return found


def received_segments(receiver: socket.socket) -> list[dict[str, Any]]:
    # Each datagram is a JSON header line, then the (sub)segment document.
    segments = []
    receiver.settimeout(SEGMENT_WAIT_SECONDS)
    try:
        while True:
            _header, _, document = receiver.recv(65536).decode().partition("\n")
            segments.append(json.loads(document))
            receiver.settimeout(0.5)
    except TimeoutError:
        return segments


def main(function_dir: str, layer_dir: str, handler: str, event_path: str, out_path: str) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    os.environ["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{receiver.getsockname()[1]}"
    sys.path[:0] = [function_dir, layer_dir]
    imported = [importlib.import_module(name).__name__ for name in top_level_names(Path(layer_dir))]
    module_name, function_name = handler.rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(json.loads(Path(event_path).read_text()), Context())
    stdlib = {os.path.realpath(sysconfig.get_path(name)) for name in ("stdlib", "platstdlib")}
    report = {
        "python": list(sys.version_info[:2]),
        "result": result,
        "imported": imported,
        "origins": origins([os.path.realpath(function_dir), os.path.realpath(layer_dir), *sorted(stdlib)]),
        "segments": received_segments(receiver),
    }
    Path(out_path).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:6])
