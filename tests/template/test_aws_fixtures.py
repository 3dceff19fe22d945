"""The shared AWS fixtures (tests/fixtures/aws.py) give other tests a usable stack."""

from typing import Any

import boto3
import pytest

from lassodrop_local.stack import create_stack
from lassodrop_local.template import load_template
from tests.fixtures.aws import AwsStack, MotoServer, create_jobs_table


def test_aws_stack_fixture_yields_a_working_stack(aws_stack: AwsStack) -> None:
    # When a job row and a check message are written through the fixture's clients
    aws_stack.dynamodb.put_item(
        TableName=aws_stack.info.jobs_table, Item={"object_id": {"S": "s3://b/k?version=1"}}
    )
    aws_stack.sqs.send_message(QueueUrl=aws_stack.info.queues["CheckQueue"].url, MessageBody="{}")

    # Then they land in the stack's own resources
    item = aws_stack.dynamodb.get_item(
        TableName=aws_stack.info.jobs_table, Key={"object_id": {"S": "s3://b/k?version=1"}}
    )
    assert "Item" in item
    received = aws_stack.sqs.receive_message(QueueUrl=aws_stack.info.queues["CheckQueue"].url)
    assert len(received["Messages"]) == 1


@pytest.mark.parametrize("aws_stack_parameters", [{"EnableWebhooks": "true", "InputPrefix": "in/"}])
def test_aws_stack_parameters_can_be_overridden(aws_stack: AwsStack) -> None:
    assert "WebhookFunction" in aws_stack.info.functions
    assert aws_stack.info.parameters["InputPrefix"] == "in/"


def test_the_stack_builds_on_a_moto_server(moto_server: MotoServer) -> None:
    # Given moto running as a real HTTP server on loopback
    assert moto_server.endpoint_url.startswith("http://127.0.0.1:")

    # When the stack is created through its endpoint
    stack = create_stack(moto_server.clients, parameters={"InputPrefix": "incoming/"})

    # Then an object dropped over HTTP reaches the ingest queue
    s3 = moto_server.clients.client("s3")
    s3.put_object(Bucket=stack.input_bucket, Key="incoming/a.wav", Body=b"RIFF")
    sqs = moto_server.clients.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.queues["IngestQueue"].url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert any('"Records"' in message["Body"] for message in messages)


def _table_shape(dynamodb: Any, name: str) -> dict[str, Any]:
    table = dynamodb.describe_table(TableName=name)["Table"]
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    return {
        "keys": table["KeySchema"],
        "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "indexes": indexes,
    }


def test_the_bare_jobs_table_is_the_stacks_jobs_table(aws_stack: AwsStack) -> None:
    # Given the jobs table built alone from the template, beside the one the whole stack created
    create_jobs_table(boto3.resource("dynamodb"), name="bare-jobs")

    # Then both have the same keys, attributes and indexes: every index the template declares
    bare = _table_shape(aws_stack.dynamodb, "bare-jobs")
    assert bare == _table_shape(aws_stack.dynamodb, aws_stack.info.jobs_table)
    properties = load_template()["Resources"]["JobsTable"]["Properties"]
    declared = [index["IndexName"] for index in properties["GlobalSecondaryIndexes"]]
    assert sorted(bare["indexes"]) == sorted(declared)
    # And the template's TTL, which moto's CloudFormation does not apply to the stack's table
    ttl = aws_stack.dynamodb.describe_time_to_live(TableName="bare-jobs")["TimeToLiveDescription"]
    expected = properties["TimeToLiveSpecification"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", expected["AttributeName"])
