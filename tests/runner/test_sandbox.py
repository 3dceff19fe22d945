"""A sandbox runs one function like Lambda: warm worker, REPORT lines, errors, timeouts, environment."""

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lassodrop_local.runner import Sandbox, SandboxSettings
from tests.runner.helpers import LogLines, Toy

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB"
    r"(?P<init>\tInit Duration: \d+\.\d{2} ms)?$"
)


@pytest.fixture
def sandboxes() -> Iterator[list[Sandbox]]:
    created: list[Sandbox] = []
    yield created
    for sandbox in created:
        sandbox.stop()


def start(toy: Toy, settings: SandboxSettings, logs: LogLines, created: list[Sandbox]) -> Sandbox:
    sandbox = Sandbox(toy.spec, settings, logs)
    created.append(sandbox)
    return sandbox


def test_report_line_has_init_duration_on_cold_start_only(toy, settings, logs, sandboxes):
    # Given a function with 512 MB
    sandbox = start(
        toy("def lambda_handler(event, context):\n    return {'pid': os.getpid()}\n", memory_size=512),
        settings,
        logs,
        sandboxes,
    )

    # When it is invoked twice
    first = sandbox.invoke({})
    second = sandbox.invoke({})

    # Then both ran in one warm worker, each has a Lambda REPORT line, only the first with Init Duration
    assert first.ok
    assert second.ok
    assert first.payload["pid"] == second.payload["pid"]
    assert (first.cold, second.cold) == (True, False)
    reports = [REPORT.match(line) for line in logs.reports()]
    assert all(reports), logs.reports()
    assert [m["id"] for m in reports] == [first.request_id, second.request_id]
    assert [bool(m["init"]) for m in reports] == [True, False]
    assert {m["memory"] for m in reports} == {"512"}
    assert all(10 <= int(m["used"]) < 512 for m in reports)


def test_start_and_end_lines_frame_the_function_logs(toy, settings, logs, sandboxes):
    sandbox = start(
        toy("def lambda_handler(event, context):\n    print('inside')\n"), settings, logs, sandboxes
    )

    invocation = sandbox.invoke({})

    assert logs.text() == [
        f"START RequestId: {invocation.request_id} Version: $LATEST",
        "inside",
        f"END RequestId: {invocation.request_id}",
        logs.reports()[0],
    ]


def test_exception_fails_invocation_logs_lambda_error_and_keeps_worker_warm(toy, settings, logs, sandboxes):
    # Given a function that raises on its first call
    body = """
    calls = []
    def lambda_handler(event, context):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("bad input")
        return {"pid": os.getpid(), "calls": len(calls)}
    """
    sandbox = start(toy(body), settings, logs, sandboxes)

    # When it is invoked twice
    failed = sandbox.invoke({})
    worker = sandbox.pid
    second = sandbox.invoke({})

    # Then the first failed with Lambda's error document, logged as JSON, and the worker stayed warm
    assert not failed.ok
    assert failed.error_type == "ValueError"
    assert failed.payload["errorMessage"] == "bad input"
    logged = [json.loads(line) for line in logs.text() if line.startswith("{")]
    assert logged[0]["errorType"] == "ValueError"
    assert logged[0]["requestId"] == failed.request_id
    assert second.ok
    assert second.payload == {"pid": worker, "calls": 2}
    assert not second.cold


def test_timeout_kills_worker_and_next_invocation_is_cold(toy, settings, logs, sandboxes):
    # Given a warm 1 second function
    body = """
    def lambda_handler(event, context):
        record(pid=os.getpid())
        time.sleep(event["sleep"])
        return os.getpid()
    """
    fn = toy(body, timeout=1.0)
    sandbox = start(fn, settings, logs, sandboxes)
    warm_pid = sandbox.invoke({"sleep": 0}).payload
    logs.lines.clear()

    # When one invocation runs past its timeout, and another follows
    timed_out = sandbox.invoke({"sleep": 30})
    after = sandbox.invoke({"sleep": 0})

    # Then the first failed with Lambda's timeout line, its worker was ended, and the next one is cold
    assert timed_out.timed_out
    assert not timed_out.ok
    assert timed_out.error_type == "Sandbox.Timedout"
    assert any(
        line.endswith(f"{timed_out.request_id} Task timed out after 1.00 seconds") for line in logs.text()
    )
    with pytest.raises(ProcessLookupError):
        os.kill(warm_pid, 0)
    assert after.ok
    assert after.cold
    assert after.payload != warm_pid
    reports = logs.reports()
    assert all(REPORT.match(line) for line in reports), reports
    assert [("Init Duration" in line) for line in reports] == [False, True]


def test_timed_out_worker_process_is_ended(toy, settings, logs, sandboxes):
    sandbox = start(
        toy(
            "def lambda_handler(event, context):\n    record(pid=os.getpid())\n    time.sleep(30)\n",
            timeout=1.0,
        ),
        settings,
        logs,
        sandboxes,
    )
    fn = sandbox.spec

    invocation = sandbox.invoke({})

    pid = json.loads((fn.code_dir / "calls.jsonl").read_text())["pid"]
    assert invocation.timed_out
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_environment_context_and_import_path_are_as_declared(
    toy, settings, logs, sandboxes, tmp_path, monkeypatch
):
    # Given a layer with a module, a declared variable, and a secret on the host that must not leak
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "helper.py").write_text("GREETING = 'from the layer'\n")
    monkeypatch.setenv("HOST_ONLY_SECRET", "leak")
    body = """
    import helper
    def lambda_handler(event, context):
        try:
            import lassodrop_local  # local tooling is never importable by Lambda code
            local = True
        except ImportError:
            local = False
        return {
            "env": dict(os.environ), "path": sys.path[:2], "cwd": os.getcwd(), "greeting": helper.GREETING,
            "local": local, "name": context.function_name, "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn, "request": context.aws_request_id,
            "group": context.log_group_name, "remaining": context.get_remaining_time_in_millis(),
        }
    """
    fn = toy(body, timeout=5, memory_size=256, environment={"TABLE": "jobs"}, layers=(layer,))
    sandbox = start(fn, settings, logs, sandboxes)

    result = sandbox.invoke({})

    assert result.ok, result.payload
    seen = result.payload
    assert seen["path"] == [str(fn.spec.code_dir), str(layer)]
    assert seen["cwd"] == str(fn.spec.code_dir)
    assert seen["greeting"] == "from the layer"
    assert seen["local"] is False
    assert seen["env"]["TABLE"] == "jobs"
    assert seen["env"]["AWS_LAMBDA_FUNCTION_NAME"] == fn.spec.name
    assert seen["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert seen["env"]["AWS_REGION"] == "us-east-1"
    assert seen["env"]["AWS_ENDPOINT_URL"] == settings.endpoint_url
    assert "HOST_ONLY_SECRET" not in seen["env"]
    assert (seen["name"], seen["memory"], seen["request"]) == (fn.spec.name, "256", result.request_id)
    assert seen["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{fn.spec.name}"
    assert seen["group"] == f"/aws/lambda/{fn.spec.name}"
    assert 0 < seen["remaining"] <= 5000


def test_powertools_logger_works_in_worker(toy, settings, logs, sandboxes):
    body = """
    from aws_lambda_powertools import Logger
    logger = Logger(service="toy")

    @logger.inject_lambda_context
    def lambda_handler(event, context):
        logger.info("hello", object_key="a.wav")
    """
    sandbox = start(toy(body), settings, logs, sandboxes)

    invocation = sandbox.invoke({})

    assert invocation.ok, invocation.payload
    entry = next(json.loads(line) for line in logs.text() if line.startswith("{"))
    assert entry["message"] == "hello"
    assert entry["object_key"] == "a.wav"
    assert entry["function_request_id"] == invocation.request_id
    assert entry["function_name"] == sandbox.spec.name
    assert entry["cold_start"] is True


def test_missing_module_fails_with_import_error_and_leaves_no_worker(toy, settings, logs, sandboxes):
    sandbox = start(
        toy("import not_a_module\ndef lambda_handler(event, context):\n    pass\n"), settings, logs, sandboxes
    )

    invocation = sandbox.invoke({})

    assert invocation.error_type == "Runtime.ImportModuleError"
    assert "not_a_module" in invocation.payload["errorMessage"]
    assert sandbox.pid is None


def test_failed_init_is_still_framed_and_reported_with_its_error_type(toy, settings, logs, sandboxes):
    # Given a function whose module cannot be imported
    sandbox = start(
        toy("import not_a_module\ndef lambda_handler(event, context):\n    pass\n"), settings, logs, sandboxes
    )

    # When it is invoked
    invocation = sandbox.invoke({})

    # Then, as in Lambda, the invocation has its START, END and REPORT lines, the REPORT naming the error
    assert f"START RequestId: {invocation.request_id} Version: $LATEST" in logs.text()
    assert f"END RequestId: {invocation.request_id}" in logs.text()
    [report] = logs.reports()
    assert report.startswith(f"REPORT RequestId: {invocation.request_id}\tDuration: ")
    assert "\tMemory Size: 128 MB\t" in report
    assert report.endswith("\tStatus: error\tError Type: Runtime.ImportModuleError")


def test_unserialisable_result_fails_with_marshal_error(toy, settings, logs, sandboxes):
    sandbox = start(
        toy("def lambda_handler(event, context):\n    return object()\n"), settings, logs, sandboxes
    )

    assert sandbox.invoke({}).error_type == "Runtime.MarshalError"


def test_handler_that_exits_fails_and_next_invocation_is_cold(toy, settings, logs, sandboxes):
    body = """
    def lambda_handler(event, context):
        if event.get("exit"):
            os._exit(3)
        return "fine"
    """
    sandbox = start(toy(body), settings, logs, sandboxes)

    crashed = sandbox.invoke({"exit": True})
    after = sandbox.invoke({})

    assert crashed.error_type == "Runtime.ExitError"
    assert "exit status 3" in crashed.payload["errorMessage"]
    assert after.ok
    assert after.cold
    # Every invocation has its REPORT line, the crashed one with Lambda's status fields
    crash_report, after_report = logs.reports()
    assert crash_report.startswith(f"REPORT RequestId: {crashed.request_id}\t")
    assert crash_report.endswith("\tStatus: error\tError Type: Runtime.ExitError")
    assert REPORT.match(after_report)
    assert after_report.startswith(f"REPORT RequestId: {after.request_id}\t")


def test_stop_ends_the_worker(toy, settings, logs, sandboxes, tmp_path: Path):
    sandbox = start(
        toy("def lambda_handler(event, context):\n    return os.getpid()\n"), settings, logs, sandboxes
    )
    pid = sandbox.invoke({}).payload

    sandbox.stop()

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sandbox.invoke({}).error_type == "Runtime.Stopped"


def test_max_memory_used_is_the_workers_own_not_the_parents(toy, settings, logs, sandboxes):
    # Given a parent that has grown by 200 MB (Linux carries ru_maxrss across fork and exec)
    ballast = b"x" * (200 * 1024 * 1024)
    sandbox = start(toy("def lambda_handler(event, context):\n    return None\n"), settings, logs, sandboxes)

    # When a small function runs
    sandbox.invoke({})
    small = int(REPORT.match(logs.reports()[0])["used"])

    # Then its REPORT shows its own peak, well below the parent's
    assert len(ballast) > small * 1024 * 1024
    assert small < 100


def test_max_memory_used_grows_with_what_the_function_holds(toy, settings, logs, sandboxes):
    body = """
    held = []
    def lambda_handler(event, context):
        held.append(b"x" * (event["mb"] * 1024 * 1024))
    """
    sandbox = start(toy(body), settings, logs, sandboxes)

    sandbox.invoke({"mb": 0})
    sandbox.invoke({"mb": 64})

    before, after = (int(REPORT.match(line)["used"]) for line in logs.reports())
    assert after - before >= 60
