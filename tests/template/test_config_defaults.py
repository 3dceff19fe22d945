"""Each function's code defaults agree with template.yaml.

A variable the template sets is either required by the code (no default) or defaults to exactly the
template's value, so a missing variable never changes behaviour.
"""

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from lassodrop.collect.config import CollectConfig
from lassodrop.ingest.config import IngestConfig
from lassodrop.runtime import ConfigError
from lassodrop.webhook import WebhookConfig
from tests.fixtures.aws import AwsStack

PARSERS: dict[str, Callable[[Mapping[str, str]], Any]] = {
    "IngestFunction": IngestConfig.from_env,
    "CollectFunction": CollectConfig.from_env,
    "WebhookFunction": WebhookConfig.from_env,
}


@pytest.fixture
def aws_stack_parameters(function: str) -> Mapping[str, str]:
    # The template's defaults, except that the webhook function only exists with webhooks on.
    return {"EnableWebhooks": "true"} if function == "WebhookFunction" else {}


@pytest.mark.parametrize("function", list(PARSERS))
def test_every_template_variable_is_required_or_defaults_to_the_templates_value(
    aws_stack: AwsStack, function: str
) -> None:
    env = dict(aws_stack.info.functions[function].environment)
    parse = PARSERS[function]
    configured = parse(env)

    for name in env:
        defaulted = _parse_or_error(parse, {key: value for key, value in env.items() if key != name})
        if isinstance(defaulted, ConfigError):
            assert name in str(defaulted)
        else:
            assert defaulted == configured, f"{function}: code default of {name} is not the template value"


def _parse_or_error(parse: Callable[[Mapping[str, str]], Any], env: Mapping[str, str]) -> Any:
    try:
        return parse(env)
    except ConfigError as error:
        return error


@pytest.mark.parametrize("function", ["IngestFunction"])
def test_the_comparison_catches_a_default_that_differs(aws_stack: AwsStack, function: str) -> None:
    env = dict(aws_stack.info.functions[function].environment)

    assert IngestConfig.from_env({**env, "JOB_TTL_DAYS": "30"}) != IngestConfig.from_env(env)
