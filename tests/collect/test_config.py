import pytest

from lassodrop.collect.config import CollectConfig
from lassodrop.runtime import ConfigError
from lassodrop.webhook import WebhookConfig

FULL = {
    "JOBS_TABLE": "jobs",
    "CHECK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/check",
    "API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:key",
    "AUDIOLASSO_BASE_URL": "https://audiolasso.dev",
    "AUDIOLASSO_ALLOW_LOCAL": "false",
    "OUTPUT_BUCKET": "out",
    "OUTPUT_PREFIX": "separated/",
    "EVENT_BUS_NAME": "default",
    "GIVE_UP_AFTER_SECONDS": "7200",
    "MAX_CHECK_DELAY_SECONDS": "600",
    "MAX_OUTPUT_BYTES": "1000",
}


def test_full_environment_parses_into_typed_fields() -> None:
    config = CollectConfig.from_env(FULL)

    assert config.output_bucket == "out"
    assert config.output_prefix == "separated/"
    assert config.api.allow_local is False
    assert (config.give_up_after_seconds, config.max_check_delay_seconds, config.max_output_bytes) == (
        7200,
        600,
        1000,
    )


@pytest.mark.parametrize("name", ["JOBS_TABLE", "CHECK_QUEUE_URL", "OUTPUT_BUCKET", "EVENT_BUS_NAME"])
def test_missing_required_variable_fails_naming_it(name: str) -> None:
    env = {key: value for key, value in FULL.items() if key != name}

    with pytest.raises(ConfigError, match=name):
        CollectConfig.from_env(env)


def test_check_delay_above_the_sqs_maximum_is_refused() -> None:
    with pytest.raises(ConfigError, match="MAX_CHECK_DELAY_SECONDS"):
        CollectConfig.from_env({**FULL, "MAX_CHECK_DELAY_SECONDS": "901"})


@pytest.mark.parametrize("value", ["0", "901"])
def test_a_park_delay_outside_what_sqs_can_delay_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="PARK_DELAY_SECONDS"):
        CollectConfig.from_env({**FULL, "PARK_DELAY_SECONDS": value})


def test_non_integer_limit_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="MAX_OUTPUT_BYTES"):
        CollectConfig.from_env({**FULL, "MAX_OUTPUT_BYTES": "lots"})


def test_unset_tunables_take_their_defaults_and_empty_prefix_is_kept() -> None:
    env = {key: value for key, value in FULL.items() if not key.startswith(("GIVE_UP", "MAX_"))}

    config = CollectConfig.from_env({**env, "OUTPUT_PREFIX": ""})

    assert config.output_prefix == ""
    assert config.max_check_delay_seconds == 900
    assert config.park_delay_seconds == 60


def test_the_webhook_check_interval_is_read_alike_by_collect_and_the_webhook() -> None:
    env = {**FULL, "WEBHOOK_CHECK_INTERVAL_SECONDS": "15"}

    assert CollectConfig.from_env(env).webhook_check_interval_seconds == 15
    assert WebhookConfig.from_env(env).check_interval_seconds == 15
    assert CollectConfig.from_env(FULL).webhook_check_interval_seconds == 60
    assert WebhookConfig.from_env(FULL).check_interval_seconds == 60
    for parse in (CollectConfig.from_env, WebhookConfig.from_env):
        with pytest.raises(ConfigError, match="WEBHOOK_CHECK_INTERVAL_SECONDS"):
            parse({**FULL, "WEBHOOK_CHECK_INTERVAL_SECONDS": "0"})
