from collections.abc import Callable
from typing import Any

import pytest

from lassodrop.runtime import AwsClients
from lassodrop_local.stack import StackInfo
from lassodrop_local.template import TemplateRuleError, resolve_parameters
from tests.template.conftest import WEBHOOK_URL

BuildStack = Callable[..., StackInfo]


def test_a_new_input_bucket_is_created_by_default(build_stack: BuildStack) -> None:
    stack = build_stack()

    assert "InputBucket" in stack.resources
    assert "ExistingBucketObjectCreatedRule" not in stack.resources
    assert stack.input_bucket == "lassodrop-input-123456789012-us-east-1"


def test_an_existing_bucket_is_fed_through_an_eventbridge_rule(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    # Given a bucket the user already has
    moto_clients.client("s3").create_bucket(Bucket="my-recordings")

    # When the stack is built on it
    stack = build_stack({"ExistingInputBucketName": "my-recordings", "InputPrefix": "incoming/"})

    # Then no bucket is created, and a rule routes its "Object Created" events under the prefix to ingest
    assert "InputBucket" not in stack.resources
    assert stack.input_bucket == "my-recordings"
    events = moto_clients.client("events")
    rule_name = stack.resources["ExistingBucketObjectCreatedRule"]
    targets = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert [target["Arn"] for target in targets] == [stack.queues["IngestQueue"].arn]
    pattern = events.describe_rule(Name=rule_name)["EventPattern"]
    assert '"my-recordings"' in pattern
    assert '{"prefix": "incoming/"}' in pattern


def test_webhooks_are_off_by_default(build_stack: BuildStack) -> None:
    stack = build_stack()

    assert "WebhookFunction" not in stack.functions
    assert "WebhookUrl" not in stack.outputs
    assert stack.functions["IngestFunction"].environment["WEBHOOK_BASE_URL"] == ""


def test_enabled_webhooks_add_a_url_function_and_tell_ingest_its_address(build_stack: BuildStack) -> None:
    stack = build_stack({"EnableWebhooks": "true"})

    webhook = stack.functions["WebhookFunction"]
    assert webhook.has_function_url
    assert webhook.code_dir.name == "webhook"
    assert stack.functions["IngestFunction"].environment["WEBHOOK_BASE_URL"] == WEBHOOK_URL
    assert stack.outputs["WebhookUrl"] == WEBHOOK_URL


@pytest.mark.parametrize(("parameters", "expected"), [({}, 5), ({"WebhookReservedConcurrency": "2"}, 2)])
def test_the_public_webhook_has_reserved_concurrency(
    build_stack: BuildStack, moto_clients: AwsClients, parameters: dict[str, str], expected: int
) -> None:
    # A flood of calls to the public URL is throttled at this cap instead of starving ingest and collect.
    stack = build_stack({"EnableWebhooks": "true", **parameters})

    function_name = stack.functions["WebhookFunction"].function_name
    concurrency = moto_clients.client("lambda").get_function_concurrency(FunctionName=function_name)

    assert concurrency["ReservedConcurrentExecutions"] == expected


def test_outputs_go_to_a_separate_bucket_by_default(build_stack: BuildStack) -> None:
    stack = build_stack()

    assert stack.output_bucket == stack.resources["OutputBucket"]
    assert stack.output_bucket != stack.input_bucket
    assert stack.functions["CollectFunction"].environment["OUTPUT_BUCKET"] == stack.output_bucket


def test_same_bucket_outputs_use_the_input_bucket_and_create_no_output_bucket(
    build_stack: BuildStack,
) -> None:
    stack = build_stack(
        {"OutputToInputBucket": "true", "InputPrefix": "incoming/", "OutputPrefix": "separated/"}
    )

    assert "OutputBucket" not in stack.resources
    assert stack.functions["CollectFunction"].environment["OUTPUT_BUCKET"] == stack.input_bucket
    assert stack.functions["CollectFunction"].environment["OUTPUT_PREFIX"] == "separated/"


@pytest.mark.parametrize(
    ("input_prefix", "output_prefix", "message"),
    [
        ("", "separated/", "needs an InputPrefix"),
        ("incoming/", "", "needs an OutputPrefix"),
        ("incoming/", "incoming/", "different folder"),
    ],
)
def test_same_bucket_outputs_that_could_retrigger_are_refused(
    sam_template: dict[str, Any], input_prefix: str, output_prefix: str, message: str
) -> None:
    parameters = {"OutputToInputBucket": "true", "InputPrefix": input_prefix, "OutputPrefix": output_prefix}

    with pytest.raises(TemplateRuleError, match=message):
        resolve_parameters(sam_template, parameters)


@pytest.mark.parametrize("prefix", ["incoming/separated/", "incoming", "/incoming/", "a|b/"])
def test_prefixes_other_than_one_top_level_folder_are_refused(
    sam_template: dict[str, Any], prefix: str
) -> None:
    # One folder each makes "different" mean "not nested": no output key can match the input filter.
    for name in ("InputPrefix", "OutputPrefix"):
        with pytest.raises(TemplateRuleError, match=name):
            resolve_parameters(sam_template, {name: prefix})


def test_distinct_single_folders_are_accepted_for_same_bucket_outputs(sam_template: dict[str, Any]) -> None:
    parameters = {"OutputToInputBucket": "true", "InputPrefix": "in/", "OutputPrefix": "input/"}

    assert resolve_parameters(sam_template, parameters)["OutputPrefix"] == "input/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MaxConcurrentUploads", "1"),
        ("MaxConcurrentUploads", "1001"),
        ("EnableWebhooks", "yes"),
        ("WebhookReservedConcurrency", "0"),
        ("LogRetentionDays", "2"),
        ("KmsKeyArn", "alias/lassodrop"),
        ("AudioLassoSignedUrlHosts", "https://bucket.s3.amazonaws.com/"),
    ],
)
def test_out_of_range_parameters_are_refused(sam_template: dict[str, Any], name: str, value: str) -> None:
    with pytest.raises(TemplateRuleError, match=name):
        resolve_parameters(sam_template, {name: value})


def test_an_existing_secret_replaces_the_created_one(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    arn = moto_clients.client("secretsmanager").create_secret(Name="team/audiolasso", SecretString="al_x")[
        "ARN"
    ]

    stack = build_stack({"ExistingApiKeySecretArn": arn})

    assert stack.api_key_secret_arn == arn
    assert stack.functions["CollectFunction"].environment["API_KEY_SECRET_ARN"] == arn
