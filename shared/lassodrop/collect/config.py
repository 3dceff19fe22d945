"""The collect function's configuration, parsed once from its environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lassodrop.messages import (
    SQS_MAX_DELAY_SECONDS,
    WEBHOOK_CHECK_INTERVAL_SECONDS,
    read_park_delay,
    read_webhook_check_interval,
)
from lassodrop.redelivery import RetrySchedule
from lassodrop.runtime import ApiSettings, read_int, require


@dataclass(frozen=True)
class CollectConfig:
    """Defaults equal template.yaml's values (a test compares them), so a missing variable changes nothing."""

    jobs_table: str
    check_queue_url: str
    api: ApiSettings
    output_bucket: str
    output_prefix: str
    event_bus_name: str
    give_up_after_seconds: int
    max_check_delay_seconds: int
    max_output_bytes: int
    park_delay_seconds: int
    # When a transiently failed check comes back (lassodrop.redelivery).
    retry: RetrySchedule
    # How long a claimed job stays ours while its outputs are copied: the function's longest run.
    collect_lease_seconds: int = 900
    first_poll_delay_seconds: int = 30
    webhook_check_interval_seconds: int = WEBHOOK_CHECK_INTERVAL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CollectConfig:
        """Raises lassodrop.runtime.ConfigError naming the first missing or malformed variable."""
        return cls(
            jobs_table=require(env, "JOBS_TABLE"),
            check_queue_url=require(env, "CHECK_QUEUE_URL"),
            api=ApiSettings.from_env(env),
            output_bucket=require(env, "OUTPUT_BUCKET"),
            # An empty prefix is legitimate (a dedicated output bucket), so only absence falls back.
            output_prefix=env.get("OUTPUT_PREFIX", ""),
            event_bus_name=require(env, "EVENT_BUS_NAME"),
            give_up_after_seconds=read_int(env, "GIVE_UP_AFTER_SECONDS", default=86_400, low=60),
            max_check_delay_seconds=read_int(
                env,
                "MAX_CHECK_DELAY_SECONDS",
                default=SQS_MAX_DELAY_SECONDS,
                low=1,
                high=SQS_MAX_DELAY_SECONDS,
            ),
            max_output_bytes=read_int(env, "MAX_OUTPUT_BYTES", default=5 * 1024**3, low=1),
            webhook_check_interval_seconds=read_webhook_check_interval(env),
            park_delay_seconds=read_park_delay(env),
            retry=RetrySchedule.from_env(env),
        )
