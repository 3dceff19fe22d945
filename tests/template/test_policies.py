"""Least privilege, checked on the policies as moto's IAM resolved them (real bucket names and ARNs)."""

import ast
from collections.abc import Callable
from typing import Any

import pytest

from lassodrop.runtime import AwsClients
from lassodrop_local.stack import StackInfo

BuildStack = Callable[..., StackInfo]
ROLES = ("IngestFunctionRole", "CollectFunctionRole", "WebhookFunctionRole")
OWNED_BY_THE_STACKS_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": "123456789012"}}


def _statements(clients: AwsClients, stack: StackInfo, role_id: str) -> list[dict[str, Any]]:
    iam = clients.client("iam")
    role = stack.resources[role_id]
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        # moto hands the inline document back as a Python repr rather than JSON.
        if isinstance(document, str):
            document = ast.literal_eval(document)
        statements.extend(document["Statement"])
    return statements


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _resources_allowing(statements: list[dict[str, Any]], action_prefix: str) -> set[str]:
    return {
        resource
        for statement in statements
        if any(action.startswith(action_prefix) for action in _as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"])
    }


def _object_resources(statements: list[dict[str, Any]]) -> set[str]:
    return {resource for resource in _resources_allowing(statements, "s3:") if "/" in resource}


def _listing(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if "s3:ListBucket" in _as_list(s["Action"])]


def test_collect_writes_only_under_the_output_prefix(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack({"OutputPrefix": "separated/"})

    statements = _statements(moto_clients, stack, "CollectFunctionRole")

    assert _resources_allowing(statements, "s3:") == {f"arn:aws:s3:::{stack.output_bucket}/separated/*"}
    s3_actions = {action for s in statements for action in _as_list(s["Action"]) if action.startswith("s3:")}
    assert s3_actions == {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}


def test_same_bucket_outputs_are_writable_only_under_the_output_prefix(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack(
        {"OutputToInputBucket": "true", "InputPrefix": "incoming/", "OutputPrefix": "separated/"}
    )

    statements = _statements(moto_clients, stack, "CollectFunctionRole")

    assert _resources_allowing(statements, "s3:") == {f"arn:aws:s3:::{stack.input_bucket}/separated/*"}


def test_ingest_reads_only_objects_under_the_input_prefix(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack({"InputPrefix": "incoming/"})

    statements = _statements(moto_clients, stack, "IngestFunctionRole")

    assert _object_resources(statements) == {f"arn:aws:s3:::{stack.input_bucket}/incoming/*"}
    assert {a for s in statements for a in _as_list(s["Action"]) if a.startswith("s3:")} == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
    }


@pytest.mark.parametrize("prefix", ["", "incoming/"])
def test_ingest_may_list_the_input_bucket_so_a_deleted_object_answers_404(
    build_stack: BuildStack, moto_clients: AwsClients, prefix: str
) -> None:
    # S3 answers 403 instead of 404 for a missing object unless the caller may list the bucket; a listing
    # limited by s3:prefix would not count, since HeadObject carries no prefix.
    stack = build_stack({"InputPrefix": prefix})

    [listing] = _listing(_statements(moto_clients, stack, "IngestFunctionRole"))

    assert _as_list(listing["Resource"]) == [f"arn:aws:s3:::{stack.input_bucket}"]
    assert listing["Condition"] == OWNED_BY_THE_STACKS_ACCOUNT


def test_ingest_reads_the_existing_bucket_when_one_is_given(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    moto_clients.client("s3").create_bucket(Bucket="my-recordings")

    stack = build_stack({"ExistingInputBucketName": "my-recordings"})

    statements = _statements(moto_clients, stack, "IngestFunctionRole")
    assert _object_resources(statements) == {"arn:aws:s3:::my-recordings/*"}
    [listing] = _listing(statements)
    assert _as_list(listing["Resource"]) == ["arn:aws:s3:::my-recordings"]


def test_webhook_may_only_read_jobs_and_send_checks(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack({"EnableWebhooks": "true"})

    statements = _statements(moto_clients, stack, "WebhookFunctionRole")

    actions = {action for statement in statements for action in _as_list(statement["Action"])}
    assert not {action for action in actions if action.split(":")[0] not in {"dynamodb", "sqs"}}
    assert not {a for a in actions if a in {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}}
    assert _resources_allowing(statements, "sqs:") == {stack.queues["CheckQueue"].arn}


def test_public_webhook_may_read_a_job_row_only_by_its_key(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    # A Scan or Query grant would let anyone who breaks into the public function read every job's token.
    stack = build_stack({"EnableWebhooks": "true"})

    statements = _statements(moto_clients, stack, "WebhookFunctionRole")

    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))]
    assert [(_as_list(s["Action"]), _as_list(s["Resource"])) for s in dynamodb] == [
        (["dynamodb:GetItem"], [_table_arn(stack)])
    ]


def _table_arn(stack: StackInfo) -> str:
    return f"arn:aws:dynamodb:{stack.region}:123456789012:table/{stack.jobs_table}"


def test_only_ingest_and_collect_which_end_jobs_may_publish_events(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack({"EnableWebhooks": "true"})

    publishers = {
        role_id
        for role_id in ("IngestFunctionRole", "CollectFunctionRole", "WebhookFunctionRole")
        if _resources_allowing(_statements(moto_clients, stack, role_id), "events:")
    }
    assert publishers == {"IngestFunctionRole", "CollectFunctionRole"}


def test_no_inline_policy_grants_every_resource_or_a_whole_bucket(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    # The managed policies SAM attaches (logs, X-Ray, SQS polling) are AWS's; everything we write is scoped.
    # A bucket ARN is only ever the resource of ingest's ListBucket on the input bucket.
    stack = build_stack({"EnableWebhooks": "true", "InputPrefix": "incoming/", "OutputPrefix": "separated/"})

    statements = [
        statement
        for role_id in ("IngestFunctionRole", "CollectFunctionRole", "WebhookFunctionRole")
        for statement in _statements(moto_clients, stack, role_id)
    ]
    resources = {resource for statement in statements for resource in _as_list(statement["Resource"])}
    whole_buckets = [
        statement
        for statement in statements
        if any(r.startswith("arn:aws:s3:::") and "/" not in r for r in _as_list(statement["Resource"]))
    ]

    assert "*" not in resources
    assert [_as_list(statement["Action"]) for statement in whole_buckets] == [["s3:ListBucket"]]
    assert [_as_list(statement["Resource"]) for statement in whole_buckets] == [
        [f"arn:aws:s3:::{stack.input_bucket}"]
    ]


def test_each_function_may_call_only_the_dynamodb_actions_its_code_uses(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    # JobStore: get_item (consistent) and conditional update_item; no function queries an index or scans.
    stack = build_stack({"EnableWebhooks": "true"})

    granted = {
        role_id: {
            (action, resource)
            for statement in _statements(moto_clients, stack, role_id)
            for action in _as_list(statement["Action"])
            if action.startswith("dynamodb:")
            for resource in _as_list(statement["Resource"])
        }
        for role_id in ROLES
    }

    table = _table_arn(stack)
    assert granted == {
        "IngestFunctionRole": {("dynamodb:GetItem", table), ("dynamodb:UpdateItem", table)},
        "CollectFunctionRole": {("dynamodb:GetItem", table), ("dynamodb:UpdateItem", table)},
        "WebhookFunctionRole": {("dynamodb:GetItem", table)},
    }


@pytest.mark.parametrize(
    "parameters",
    [
        {"EnableWebhooks": "true"},
        {"ExistingInputBucketName": "my-recordings"},
        {"OutputToInputBucket": "true", "InputPrefix": "incoming/", "OutputPrefix": "separated/"},
    ],
    ids=["created-buckets", "existing-bucket", "same-bucket"],
)
def test_every_s3_grant_requires_the_bucket_to_belong_to_the_stacks_account(
    build_stack: BuildStack, moto_clients: AwsClients, parameters: dict[str, str]
) -> None:
    # Bucket names are predictable: without the owner condition a same-named bucket elsewhere would do.
    moto_clients.client("s3").create_bucket(Bucket="my-recordings")
    stack = build_stack(parameters)

    s3_statements = [
        statement
        for role_id in ROLES
        if stack.resources.get(role_id)
        for statement in _statements(moto_clients, stack, role_id)
        if any(action.startswith("s3:") for action in _as_list(statement["Action"]))
    ]

    assert len(s3_statements) == 3
    assert [statement.get("Condition") for statement in s3_statements] == [OWNED_BY_THE_STACKS_ACCOUNT] * 3
