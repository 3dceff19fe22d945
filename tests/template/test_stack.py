"""The translated template as created in moto: what the pipeline and the local runner rely on."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import pytest
from moto.cloudformation.parsing import get_model_map

from lassodrop.runtime import AwsClients
from lassodrop_local.stack import StackInfo, clients_for_moto
from lassodrop_local.template import REPO_ROOT, Translation, prepare_for_moto

BuildStack = Callable[..., StackInfo]

COMMON = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
    "JOBS_TABLE",
    "CHECK_QUEUE_URL",
    "WEBHOOK_CHECK_INTERVAL_SECONDS",
}
API_CALLERS = COMMON | {
    "API_KEY_SECRET_ARN",
    "AUDIOLASSO_BASE_URL",
    "AUDIOLASSO_ALLOW_LOCAL",
    "AUDIOLASSO_SIGNED_URL_HOSTS",
}
# The SQS consumers' backoff for transiently failed messages (lassodrop.redelivery).
RETRY_SCHEDULE = {"RETRY_FIRST_DELAY_SECONDS", "RETRY_MAX_DELAY_SECONDS"}
CONTRACT_ENVIRONMENT = {
    "IngestFunction": API_CALLERS
    | RETRY_SCHEDULE
    | {
        "DEFAULT_PROMPT",
        "PREFIX_PROMPTS",
        "INPUT_PREFIX",
        "OUTPUT_PREFIX",
        "FIRST_CHECK_DELAY_SECONDS",
        "UPLOAD_LEASE_SECONDS",
        "WEBHOOK_BASE_URL",
        "JOB_TTL_DAYS",
        "INGEST_QUEUE_URL",
        "EVENT_BUS_NAME",
        "PARK_DELAY_SECONDS",
    },
    "CollectFunction": API_CALLERS
    | RETRY_SCHEDULE
    | {
        "OUTPUT_BUCKET",
        "OUTPUT_PREFIX",
        "EVENT_BUS_NAME",
        "GIVE_UP_AFTER_SECONDS",
        "MAX_CHECK_DELAY_SECONDS",
        "CHECK_SCHEDULE",
        "CHECK_GROWTH_PERCENT",
        "STATUS_WATCH_SECONDS",
        "MAX_OUTPUT_BYTES",
        "PARK_DELAY_SECONDS",
    },
    "WebhookFunction": COMMON,
}


def test_every_resource_left_for_moto_has_a_moto_model(translation: Translation) -> None:
    # A resource type moto cannot create would be skipped with only a warning; fail here instead.
    prepared = prepare_for_moto(translation.template, {})

    types = {resource["Type"] for resource in prepared["Resources"].values()}

    assert types - set(get_model_map()) == set()


def test_functions_get_exactly_the_contract_environment(build_stack: BuildStack) -> None:
    stack = build_stack({"EnableWebhooks": "true"})

    environments = {name: set(function.environment) for name, function in stack.functions.items()}

    assert environments == CONTRACT_ENVIRONMENT


def test_environment_names_the_created_resources(build_stack: BuildStack) -> None:
    stack = build_stack(
        {"InputPrefix": "incoming/", "PrefixPrompts": '{"incoming/drums/": "isolate the drums"}'}
    )

    ingest = stack.functions["IngestFunction"].environment
    assert ingest["JOBS_TABLE"] == stack.jobs_table
    assert ingest["CHECK_QUEUE_URL"] == stack.queues["CheckQueue"].url
    assert ingest["API_KEY_SECRET_ARN"] == stack.api_key_secret_arn
    assert ingest["AUDIOLASSO_ALLOW_LOCAL"] == "false"
    assert ingest["AUDIOLASSO_BASE_URL"] == "https://audiolasso.dev"
    assert ingest["AUDIOLASSO_SIGNED_URL_HOSTS"] == ""
    assert ingest["DEFAULT_PROMPT"] == "isolate the lead vocal"
    assert json.loads(ingest["PREFIX_PROMPTS"]) == {"incoming/drums/": "isolate the drums"}
    assert ingest["INPUT_PREFIX"] == "incoming/"
    assert ingest["UPLOAD_LEASE_SECONDS"] == str(stack.functions["IngestFunction"].timeout)
    assert ingest["INGEST_QUEUE_URL"] == stack.queues["IngestQueue"].url
    assert ingest["EVENT_BUS_NAME"] == "default"
    collect = stack.functions["CollectFunction"].environment
    assert collect["GIVE_UP_AFTER_SECONDS"] == "86400"
    assert int(collect["MAX_CHECK_DELAY_SECONDS"]) <= 900
    assert ingest["PARK_DELAY_SECONDS"] == collect["PARK_DELAY_SECONDS"] == "60"


def test_signed_url_hosts_reach_every_function_that_calls_the_api(build_stack: BuildStack) -> None:
    hosts = "*.r2.cloudflarestorage.com,bucket.s3.amazonaws.com"
    stack = build_stack({"EnableWebhooks": "true", "AudioLassoSignedUrlHosts": hosts})

    passed = {
        name: function.environment.get("AUDIOLASSO_SIGNED_URL_HOSTS")
        for name, function in stack.functions.items()
        if "AUDIOLASSO_BASE_URL" in function.environment
    }

    assert passed == {"IngestFunction": hosts, "CollectFunction": hosts}


def test_functions_run_their_codeuri_with_the_shared_layer(build_stack: BuildStack) -> None:
    stack = build_stack({"EnableWebhooks": "true"})

    for name, folder in {
        "IngestFunction": "ingest",
        "CollectFunction": "collect",
        "WebhookFunction": "webhook",
    }.items():
        function = stack.functions[name]
        assert function.code_dir == REPO_ROOT / "functions" / folder
        assert function.handler == "app.lambda_handler"
        assert function.runtime == "python3.13"
        assert function.layer_dirs == (REPO_ROOT / "shared",)


def test_the_api_key_secret_holds_the_key(build_stack: BuildStack, moto_clients: AwsClients) -> None:
    stack = build_stack()

    secret = moto_clients.client("secretsmanager").get_secret_value(SecretId=stack.api_key_secret_arn)

    assert secret["SecretString"] == "al_test_key"


def test_jobs_table_has_the_contract_key_and_indexes(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack()

    table = moto_clients.client("dynamodb").describe_table(TableName=stack.jobs_table)["Table"]

    assert table["KeySchema"] == [{"AttributeName": "object_id", "KeyType": "HASH"}]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert indexes["by-request-id"]["KeySchema"] == [{"AttributeName": "request_id", "KeyType": "HASH"}]
    assert indexes["by-source"]["KeySchema"] == [
        {"AttributeName": "source_uri", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert indexes["by-status"]["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert {index["Projection"]["ProjectionType"] for index in indexes.values()} == {"ALL"}


def test_jobs_table_expires_rows_and_keeps_backups(translation: Translation) -> None:
    # moto does not apply these two settings, so they are checked on the template itself.
    properties = translation.template["Resources"]["JobsTable"]["Properties"]

    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at_epoch", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"


def _received_bodies(clients: AwsClients, queue_url: str) -> list[dict[str, Any]]:
    messages = clients.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


def test_objects_under_the_input_prefix_reach_the_ingest_queue(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    # Given the stack with its buckets wired
    stack = build_stack({"InputPrefix": "incoming/"})
    s3 = moto_clients.client("s3")

    # When one object lands under the prefix and one outside it
    s3.put_object(Bucket=stack.input_bucket, Key="incoming/take one.wav", Body=b"RIFF")
    s3.put_object(Bucket=stack.input_bucket, Key="elsewhere/take two.wav", Body=b"RIFF")

    # Then the ingest queue holds the configuration test event and one record, for the first object
    bodies = _received_bodies(moto_clients, stack.queues["IngestQueue"].url)
    records = [record for body in bodies for record in body.get("Records", [])]
    # (keys arrive URL-encoded; moto also encodes "/" where S3 does not, so compare decoded)
    assert [unquote_plus(record["s3"]["object"]["key"]) for record in records] == ["incoming/take one.wav"]
    # moto leaves versionId out of notification records, so the versioning is checked on the object itself.
    assert s3.head_object(Bucket=stack.input_bucket, Key="incoming/take one.wav").get("VersionId")
    assert [body.get("Event") for body in bodies if "Records" not in body] == ["s3:TestEvent"]


def test_wiring_matches_the_template_notification(translation: Translation) -> None:
    # wire_buckets replays this configuration through the S3 API; it must stay what the template declares.
    bucket = translation.template["Resources"]["InputBucket"]
    (queue_configuration,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]

    assert queue_configuration["Event"] == "s3:ObjectCreated:*"
    assert queue_configuration["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    prefix_filter = queue_configuration["Filter"]["Fn::If"]
    assert prefix_filter[0] == "HasInputPrefix"
    assert prefix_filter[1] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": {"Ref": "InputPrefix"}}]}}
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_existing_bucket_events_reach_the_ingest_queue(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    # Given an existing bucket wired through EventBridge
    moto_clients.client("s3").create_bucket(Bucket="my-recordings")
    stack = build_stack({"ExistingInputBucketName": "my-recordings", "InputPrefix": "incoming/"})

    # When objects land inside and outside the prefix
    moto_clients.client("s3").put_object(Bucket="my-recordings", Key="incoming/a.wav", Body=b"RIFF")
    moto_clients.client("s3").put_object(Bucket="my-recordings", Key="elsewhere/b.wav", Body=b"RIFF")

    # Then only the first arrives, as an EventBridge envelope
    bodies = _received_bodies(moto_clients, stack.queues["IngestQueue"].url)
    assert [(body["detail-type"], body["detail"]["object"]["key"]) for body in bodies] == [
        ("Object Created", "incoming/a.wav")
    ]


def test_created_buckets_are_encrypted(build_stack: BuildStack, moto_clients: AwsClients) -> None:
    stack = build_stack()
    s3 = moto_clients.client("s3")

    for bucket in (stack.input_bucket, stack.output_bucket):
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_created_buckets_block_public_access_and_refuse_plain_http(translation: Translation) -> None:
    # moto drops these settings and the bucket policies, so they are checked on the template itself.
    resources = translation.template["Resources"]
    for bucket_id, policy_id in (
        ("InputBucket", "InputBucketPolicy"),
        ("OutputBucket", "OutputBucketPolicy"),
    ):
        block = resources[bucket_id]["Properties"]["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        )
        (statement,) = resources[policy_id]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert resources[policy_id]["Properties"]["Bucket"] == {"Ref": bucket_id}


def test_ingest_queue_accepts_only_its_own_sources(translation: Translation) -> None:
    statements = translation.template["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    condition, from_bucket, from_rule = statements[0]["Fn::If"]

    assert condition == "CreateInputBucket"
    assert from_bucket["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "Fn::Sub" in from_bucket["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert from_rule["Principal"] == {"Service": "events.amazonaws.com"}
    assert from_rule["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ExistingBucketObjectCreatedRule", "Arn"]
    }


def test_dead_letter_queues_and_function_errors_raise_alarms(translation: Translation) -> None:
    alarms = [
        r["Properties"]
        for r in translation.template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace", "").startswith("AWS/")
    ]

    watched = {json.dumps(alarm["Dimensions"][0]["Value"]) for alarm in alarms}

    assert watched == {
        json.dumps({"Fn::GetAtt": ["IngestDLQ", "QueueName"]}),
        json.dumps({"Fn::GetAtt": ["CheckDLQ", "QueueName"]}),
        json.dumps({"Fn::GetAtt": ["ExistingBucketEventsDLQ", "QueueName"]}),
        json.dumps({"Ref": "IngestFunction"}),
        json.dumps({"Ref": "CollectFunction"}),
        json.dumps({"Ref": "WebhookFunction"}),
    }
    assert all(
        alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold" for alarm in alarms
    )


def test_stack_can_be_created_twice_side_by_side(build_stack: BuildStack) -> None:
    first = build_stack(stack_name="lassodrop")
    second = build_stack(stack_name="other")

    assert first.input_bucket != second.input_bucket
    assert first.jobs_table != second.jobs_table


def test_moto_clients_never_use_the_machines_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given credentials in the environment that could reach a real account
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")

    # When clients for moto are built
    credentials = clients_for_moto().session.get_credentials()

    # Then they carry moto's fake credentials instead
    assert (credentials.access_key, credentials.secret_key) == ("testing", "testing")
