"""Run in a fresh interpreter: `python invoke.py HANDLER [EVENT]`; prints what importing (and invoking) did.

It imports the handler module (the function's directory is the working directory, as /var/task is in
Lambda), records which X-Ray SDK modules the import loaded, then, given an event file, calls the handler once
with a stand-in for Lambda's context and prints the result as JSON. Nothing in it is timed.
"""

import importlib
import json
import sys
from pathlib import Path


class Context:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name = "ColdStartTest"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ColdStartTest"
    aws_request_id = "5b6b4f0e-3f8c-4c55-9d0c-7d2b1f0e9a21"
    log_group_name = "/aws/lambda/ColdStartTest"
    log_stream_name = "coldstart"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def xray_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] == "aws_xray_sdk")


def main(handler: str, event_path: str | None) -> None:
    module_name, function_name = handler.rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    report: dict[str, object] = {"xray_modules_after_import": xray_modules()}
    if event_path is not None:
        report["result"] = function(json.loads(Path(event_path).read_text()), Context())
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
