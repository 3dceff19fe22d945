"""The embedded local Lambda runtime: sandboxes for functions, SQS event source mappings, REPORT lines."""

from lassodrop_local.runner.runtime import FunctionStats, Runtime
from lassodrop_local.runner.sandbox import Invocation, LogSink, Sandbox, print_sink
from lassodrop_local.runner.spec import FunctionSpec, SandboxSettings, SqsMapping

__all__ = [
    "FunctionSpec",
    "FunctionStats",
    "Invocation",
    "LogSink",
    "Runtime",
    "Sandbox",
    "SandboxSettings",
    "SqsMapping",
    "print_sink",
]
