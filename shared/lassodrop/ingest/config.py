"""The ingest function's configuration, parsed once from its environment; a bad value names its variable."""

import json
from collections.abc import Mapping
from dataclasses import dataclass

from lassodrop.messages import SQS_MAX_DELAY_SECONDS, read_park_delay
from lassodrop.redelivery import RetrySchedule
from lassodrop.runtime import ApiSettings, ConfigError, read_int, require


@dataclass(frozen=True)
class IngestConfig:
    """Defaults equal template.yaml's values (a test compares them), so a missing variable changes nothing."""

    jobs_table: str
    check_queue_url: str
    api: ApiSettings
    default_prompt: str
    prefix_prompts: Mapping[str, str]
    input_prefix: str
    # Collect's OUTPUT_PREFIX: an input whose output keys would pass S3's key limit is refused before upload.
    output_prefix: str
    first_check_delay_seconds: int
    # A claimed upload stays ours this long: the function timeout, so a live worker never loses it.
    upload_lease_seconds: int
    webhook_base_url: str | None
    job_ttl_days: int
    # Account trouble: the object's message is parked back on its own queue, and the breaker's events go here.
    ingest_queue_url: str
    event_bus_name: str
    park_delay_seconds: int
    # When a transiently failed message comes back (lassodrop.redelivery).
    retry: RetrySchedule

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "IngestConfig":
        return cls(
            jobs_table=require(env, "JOBS_TABLE"),
            check_queue_url=require(env, "CHECK_QUEUE_URL"),
            api=ApiSettings.from_env(env),
            default_prompt=require(env, "DEFAULT_PROMPT"),
            prefix_prompts=_prefix_prompts(env),
            input_prefix=env.get("INPUT_PREFIX", ""),
            output_prefix=env.get("OUTPUT_PREFIX", ""),
            # 0 as template.yaml sets it without webhooks: the first check watches the status stream at once.
            first_check_delay_seconds=read_int(
                env, "FIRST_CHECK_DELAY_SECONDS", default=0, low=0, high=SQS_MAX_DELAY_SECONDS
            ),
            upload_lease_seconds=read_int(env, "UPLOAD_LEASE_SECONDS", default=900, low=1),
            webhook_base_url=_webhook_base_url(env),
            job_ttl_days=read_int(env, "JOB_TTL_DAYS", default=90, low=1),
            ingest_queue_url=require(env, "INGEST_QUEUE_URL"),
            event_bus_name=require(env, "EVENT_BUS_NAME"),
            park_delay_seconds=read_park_delay(env),
            retry=RetrySchedule.from_env(env),
        )


def _prefix_prompts(env: Mapping[str, str]) -> dict[str, str]:
    raw = env.get("PREFIX_PROMPTS", "").strip() or "{}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"PREFIX_PROMPTS is not JSON: {exc.msg}") from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise ConfigError(
            'PREFIX_PROMPTS must be a JSON object of key prefix -> non-empty prompt, e.g. {"talks/": "..."}'
        )
    return value


def _webhook_base_url(env: Mapping[str, str]) -> str | None:
    url = env.get("WEBHOOK_BASE_URL", "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"WEBHOOK_BASE_URL must be an http(s) URL, got {url!r}")
    return url or None
