"""What the runtime needs to know about a function, its queue, and the sandbox it runs in."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the template declares it."""

    name: str
    code_dir: Path
    handler: str
    layers: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    memory_size: int = 128

    def __post_init__(self) -> None:
        module, _, func = self.handler.rpartition(".")
        if not module or not func:
            raise ValueError(f"{self.name}: handler must look like 'module.function', got {self.handler!r}")
        if not self.code_dir.is_dir():
            raise ValueError(f"{self.name}: code directory {self.code_dir} does not exist")
        if self.timeout <= 0:
            raise ValueError(f"{self.name}: timeout must be positive, got {self.timeout}")


@dataclass(frozen=True)
class SqsMapping:
    """An SQS event source mapping. `queue_arn` is looked up from the queue when not given."""

    queue_url: str
    queue_arn: str | None = None
    batch_size: int = 10
    maximum_concurrency: int | None = None
    report_batch_item_failures: bool = False

    def __post_init__(self) -> None:
        # One ReceiveMessage returns at most 10; larger batches need a batching window, not implemented here.
        if not 1 <= self.batch_size <= 10:
            raise ValueError(f"batch size must be between 1 and 10 locally, got {self.batch_size}")
        if self.maximum_concurrency is not None and self.maximum_concurrency < 1:
            raise ValueError(f"maximum concurrency must be at least 1, got {self.maximum_concurrency}")


@dataclass(frozen=True)
class SandboxSettings:
    """What every sandbox shares: where AWS is, and which fake account and credentials to present.

    Workers never inherit the parent's environment, so a missing endpoint can never reach real AWS with real
    credentials from the machine.
    """

    region: str = "us-east-1"
    account_id: str = "123456789012"
    endpoint_url: str | None = None
    extra_environment: Mapping[str, str] = field(default_factory=dict)
    init_timeout: float = 10.0
