"""KmsKeyArn: a customer managed key for everything the stack stores, and the right to use it."""

import ast
from collections.abc import Callable
from typing import Any

import pytest

from lassodrop.runtime import AwsClients
from lassodrop_local.stack import StackInfo
from lassodrop_local.template import Translation

BuildStack = Callable[..., StackInfo]
ROLES = ("IngestFunctionRole", "CollectFunctionRole", "WebhookFunctionRole")


@pytest.fixture
def key_arn(moto_clients: AwsClients) -> str:
    return str(moto_clients.client("kms").create_key()["KeyMetadata"]["Arn"])


def _kms_statements(clients: AwsClients, role: str) -> list[dict[str, Any]]:
    iam = clients.client("iam")
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        # moto hands the inline document back as a Python repr rather than JSON.
        document = ast.literal_eval(document) if isinstance(document, str) else document
        statements.extend(s for s in document["Statement"] if "kms:" in str(s["Action"]))
    return statements


def _bucket_rule(clients: AwsClients, bucket: str) -> dict[str, Any]:
    encryption = clients.client("s3").get_bucket_encryption(Bucket=bucket)
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    return dict(rule)


def test_a_kms_key_encrypts_the_created_buckets(
    build_stack: BuildStack, moto_clients: AwsClients, key_arn: str
) -> None:
    stack = build_stack({"KmsKeyArn": key_arn})

    for bucket in (stack.input_bucket, stack.output_bucket):
        rule = _bucket_rule(moto_clients, bucket)
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        }


@pytest.mark.parametrize("bucket", ["", "my-recordings"], ids=["created-bucket", "existing-bucket"])
def test_a_kms_key_encrypts_every_queue(
    build_stack: BuildStack, moto_clients: AwsClients, key_arn: str, bucket: str
) -> None:
    moto_clients.client("s3").create_bucket(Bucket="my-recordings")

    stack = build_stack({"KmsKeyArn": key_arn, "ExistingInputBucketName": bucket})

    sqs = moto_clients.client("sqs")
    keys = {
        queue_id: sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"].get(
            "KmsMasterKeyId"
        )
        for queue_id, queue in stack.queues.items()
    }
    assert len(keys) == (5 if bucket else 4)
    assert set(keys.values()) == {key_arn}


def test_a_kms_key_encrypts_the_table_and_the_created_secret(translation: Translation) -> None:
    # moto ignores a table's SSESpecification, and its stack gets the secret through ExistingApiKeySecretArn.
    resources = translation.template["Resources"]
    the_key_if_given = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}

    assert resources["JobsTable"]["Properties"]["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": {"Fn::If": ["HasKmsKey", "KMS", {"Ref": "AWS::NoValue"}]},
        "KMSMasterKeyId": the_key_if_given,
    }
    assert resources["ApiKeySecret"]["Properties"]["KmsKeyId"] == the_key_if_given


def test_every_function_may_use_the_key_only_through_the_services_it_calls(
    build_stack: BuildStack, moto_clients: AwsClients, key_arn: str
) -> None:
    # Decrypt reads an SSE-KMS object, the secret and received messages; GenerateDataKey writes and sends.
    stack = build_stack({"KmsKeyArn": key_arn, "EnableWebhooks": "true"})

    granted = {role_id: _kms_statements(moto_clients, stack.resources[role_id]) for role_id in ROLES}

    services = {
        "IngestFunctionRole": ["s3", "sqs", "secretsmanager", "dynamodb"],
        "CollectFunctionRole": ["s3", "sqs", "secretsmanager", "dynamodb"],
        "WebhookFunctionRole": ["sqs", "dynamodb"],
    }
    assert granted == {
        role_id: [
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": [f"{name}.us-east-1.amazonaws.com" for name in names]}
                },
            }
        ]
        for role_id, names in services.items()
    }


def test_without_a_key_storage_keeps_aws_managed_encryption_and_roles_get_no_kms_rights(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack({"EnableWebhooks": "true"})

    sqs = moto_clients.client("sqs")
    for queue in stack.queues.values():
        attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert "KmsMasterKeyId" not in attributes
    for bucket in (stack.input_bucket, stack.output_bucket):
        assert _bucket_rule(moto_clients, bucket)["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"
        }
    assert all(_kms_statements(moto_clients, stack.resources[role_id]) == [] for role_id in ROLES)
