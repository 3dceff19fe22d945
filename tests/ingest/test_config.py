"""The ingest configuration fails fast, naming the variable that is missing or wrong."""

import pytest

from lassodrop.ingest.config import IngestConfig
from lassodrop.runtime import ConfigError

VALID = {
    "JOBS_TABLE": "jobs",
    "CHECK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/check",
    "API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf",
    "AUDIOLASSO_BASE_URL": "https://audiolasso.dev",
    "AUDIOLASSO_ALLOW_LOCAL": "false",
    "DEFAULT_PROMPT": "isolate the lead vocal",
    "PREFIX_PROMPTS": '{"talks/": "keep the speaker"}',
    "INPUT_PREFIX": "incoming/",
    "OUTPUT_PREFIX": "separated/",
    "FIRST_CHECK_DELAY_SECONDS": "30",
    "UPLOAD_LEASE_SECONDS": "900",
    "WEBHOOK_BASE_URL": "",
    "JOB_TTL_DAYS": "90",
    "INGEST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/ingest",
    "EVENT_BUS_NAME": "default",
    "PARK_DELAY_SECONDS": "60",
}


def test_a_complete_environment_parses() -> None:
    config = IngestConfig.from_env(VALID)

    assert config.prefix_prompts == {"talks/": "keep the speaker"}
    assert config.output_prefix == "separated/"
    assert (config.first_check_delay_seconds, config.upload_lease_seconds, config.job_ttl_days) == (
        30,
        900,
        90,
    )
    assert config.webhook_base_url is None
    assert config.api.allow_local is False
    assert config.park_delay_seconds == 60


@pytest.mark.parametrize(
    "name",
    [
        "JOBS_TABLE",
        "CHECK_QUEUE_URL",
        "API_KEY_SECRET_ARN",
        "AUDIOLASSO_BASE_URL",
        "DEFAULT_PROMPT",
        "INGEST_QUEUE_URL",
        "EVENT_BUS_NAME",
    ],
)
def test_a_missing_required_variable_is_named(name: str) -> None:
    env = {k: v for k, v in VALID.items() if k != name}

    with pytest.raises(ConfigError, match=name):
        IngestConfig.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIRST_CHECK_DELAY_SECONDS", "901"),
        ("FIRST_CHECK_DELAY_SECONDS", "soon"),
        ("UPLOAD_LEASE_SECONDS", "0"),
        ("JOB_TTL_DAYS", "-1"),
        ("PARK_DELAY_SECONDS", "0"),
        ("PARK_DELAY_SECONDS", "901"),
        ("AUDIOLASSO_ALLOW_LOCAL", "maybe"),
        ("PREFIX_PROMPTS", "{not json"),
        ("PREFIX_PROMPTS", '{"talks/": ""}'),
        ("PREFIX_PROMPTS", '["talks/"]'),
        ("WEBHOOK_BASE_URL", "hooks.example.com"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        IngestConfig.from_env({**VALID, name: value})


def test_optional_values_have_their_documented_defaults() -> None:
    optional = (
        "PREFIX_PROMPTS",
        "INPUT_PREFIX",
        "OUTPUT_PREFIX",
        "FIRST_CHECK_DELAY_SECONDS",
        "UPLOAD_LEASE_SECONDS",
        "JOB_TTL_DAYS",
    )
    env = {k: v for k, v in VALID.items() if k not in optional}

    config = IngestConfig.from_env(env)

    assert (config.prefix_prompts, config.input_prefix, config.output_prefix) == ({}, "", "")
    assert (config.first_check_delay_seconds, config.upload_lease_seconds) == (0, 900)
