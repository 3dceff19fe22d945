"""Logs that expire and events that are never silently dropped."""

from collections.abc import Callable

import pytest

from lassodrop_local.stack import AwsClients, StackInfo, Translation

BuildStack = Callable[..., StackInfo]


@pytest.mark.parametrize(("parameters", "days"), [({}, 30), ({"LogRetentionDays": "14"}, 14)])
def test_every_function_logs_to_its_own_group_that_expires(
    build_stack: BuildStack, moto_clients: AwsClients, parameters: dict[str, str], days: int
) -> None:
    stack = build_stack({"EnableWebhooks": "true", **parameters})

    groups = moto_clients.client("logs").describe_log_groups()["logGroups"]

    retention = {group["logGroupName"]: int(group["retentionInDays"]) for group in groups}
    assert retention == {
        f"/aws/lambda/{function.function_name}": days for function in stack.functions.values()
    }


def test_existing_bucket_events_that_cannot_be_delivered_go_to_a_dead_letter_queue(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    moto_clients.client("s3").create_bucket(Bucket="my-recordings")

    stack = build_stack({"ExistingInputBucketName": "my-recordings"})

    rule_name = stack.resources["ExistingBucketObjectCreatedRule"]
    targets = moto_clients.client("events").list_targets_by_rule(Rule=rule_name)["Targets"]
    dlq = stack.queues["ExistingBucketEventsDLQ"]
    assert [target["DeadLetterConfig"]["Arn"] for target in targets] == [dlq.arn]
    assert stack.outputs["ExistingBucketEventsDLQUrl"] == dlq.url


def test_a_created_input_bucket_needs_no_events_dead_letter_queue(build_stack: BuildStack) -> None:
    stack = build_stack()

    assert "ExistingBucketEventsDLQ" not in stack.queues


def test_only_the_rule_may_send_to_the_events_dead_letter_queue(translation: Translation) -> None:
    # moto drops queue policies, so this one is checked on the template itself.
    resources = translation.template["Resources"]
    policy = resources["ExistingBucketEventsDLQPolicy"]

    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]

    assert policy["Properties"]["Queues"] == [{"Ref": "ExistingBucketEventsDLQ"}]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ExistingBucketObjectCreatedRule", "Arn"]}}
    }
