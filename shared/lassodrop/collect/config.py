"""The collect function's configuration, parsed once from its environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lassodrop.collect.backoff import CheckSchedule, ScheduleKind
from lassodrop.messages import (
    SQS_MAX_DELAY_SECONDS,
    WEBHOOK_CHECK_INTERVAL_SECONDS,
    read_park_delay,
    read_webhook_check_interval,
)
from lassodrop.redelivery import RetrySchedule
from lassodrop.runtime import ApiSettings, ConfigError, read_int, require

# The watch must end with time to spare in collect's 300 s Timeout (a test holds template.yaml to it).
MAX_STATUS_WATCH_SECONDS = 240


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
    schedule_kind: ScheduleKind = ScheduleKind.GROWING
    check_growth_percent: int = 10
    status_watch_seconds: int = 240

    @property
    def schedule(self) -> CheckSchedule:
        """When a job's status is read again (lassodrop.collect.backoff explains both schedules)."""
        return CheckSchedule(
            self.schedule_kind,
            give_up_after=self.give_up_after_seconds,
            first=self.first_poll_delay_seconds,
            growth=self.check_growth_percent / 100,
            watch_seconds=self.status_watch_seconds,
            cap=self.max_check_delay_seconds,
        )

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
            schedule_kind=_schedule_kind(env),
            check_growth_percent=read_int(env, "CHECK_GROWTH_PERCENT", default=10, low=1, high=400),
            status_watch_seconds=read_int(
                env, "STATUS_WATCH_SECONDS", default=240, low=0, high=MAX_STATUS_WATCH_SECONDS
            ),
        )


def _schedule_kind(env: Mapping[str, str]) -> ScheduleKind:
    raw = env.get("CHECK_SCHEDULE", "").strip().lower() or ScheduleKind.GROWING
    try:
        return ScheduleKind(raw)
    except ValueError:
        kinds = ", ".join(kind.value for kind in ScheduleKind)
        raise ConfigError(f"CHECK_SCHEDULE must be one of {kinds}, got {raw!r}") from None
