from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from moto import mock_aws

from lassodrop.runtime import AwsClients
from lassodrop_local.stack import StackInfo, clients_for_moto, create_stack
from lassodrop_local.template import Translation, load_template, translate

# One sample for every webhook-enabled stack: the runner would serve the webhook here.
WEBHOOK_URL = "http://127.0.0.1:8765/webhook/"


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def translation(sam_template: dict[str, Any]) -> Translation:
    return translate(sam_template)


@pytest.fixture
def moto_clients() -> Iterator[AwsClients]:
    with mock_aws():
        yield clients_for_moto()


@pytest.fixture
def build_stack(moto_clients: AwsClients):
    """Create the template's stack in the test's moto with the given parameter overrides."""

    def build(parameters: Mapping[str, str] | None = None, stack_name: str = "lassodrop") -> StackInfo:
        parameters = dict(parameters or {})
        webhook_url = WEBHOOK_URL if parameters.get("EnableWebhooks") == "true" else None
        return create_stack(
            moto_clients, stack_name=stack_name, parameters=parameters, webhook_url=webhook_url
        )

    return build
