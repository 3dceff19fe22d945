"""Build the stack that template.yaml declares in moto, so tests and the embedded stack cannot drift from it.

The template, translated and prepared by `lassodrop_local.template`, is created in moto's CloudFormation
(in-process under `mock_aws`, or a moto server given its endpoint URL). moto covers most of it; what it does
not, this module plays through the ordinary APIs or records for the local runner:

- Lambda functions and the layer ARE created in moto (from tiny placeholder zips) because moto then resolves
  each function's Environment, Timeout and MemorySize exactly as CloudFormation would; the code that runs
  locally is the CodeUri/ContentUri directory, recorded here.
- The event source mappings left out of moto are recorded in each function's configuration instead; the local
  runner polls the queues as Lambda would.
- The API key secret, left out too, is created through the Secrets Manager API and handed in through the
  ExistingApiKeySecretArn parameter.
- moto's bucket model ignores versioning and notifications, so `wire_buckets` applies them through the S3 API.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from lassodrop.runtime import AwsClients
from lassodrop_local.template import (
    ARTIFACT_BUCKET,
    TEMPLATE_PATH,
    Translation,
    evaluate_conditions,
    load_template,
    prepare_for_moto,
    resolve_parameters,
    translate,
)

DEFAULT_STACK_NAME = "lassodrop"
DEFAULT_REGION = "us-east-1"


class StackCreateError(RuntimeError):
    """moto's CloudFormation did not reach CREATE_COMPLETE."""


@dataclass(frozen=True)
class SqsEventSource:
    """An SQS event source mapping of a function, with the queue resolved."""

    queue_logical_id: str
    queue_url: str
    queue_arn: str
    batch_size: int
    maximum_concurrency: int | None
    function_response_types: tuple[str, ...]

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class FunctionConfig:
    """One AWS::Serverless::Function as created: code on disk plus the resolved configuration."""

    logical_id: str
    function_name: str
    code_dir: Path
    handler: str
    runtime: str
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout: int
    memory_size: int
    event_sources: tuple[SqsEventSource, ...]
    has_function_url: bool


@dataclass(frozen=True)
class QueueConfig:
    logical_id: str
    url: str
    arn: str
    visibility_timeout: int
    dead_letter_queue_arn: str | None
    max_receive_count: int | None
    message_retention_period: int


@dataclass(frozen=True)
class StackInfo:
    """Physical ids of the created stack, keyed the way the template names things."""

    stack_name: str
    region: str
    parameters: Mapping[str, str]
    conditions: Mapping[str, bool]
    resources: Mapping[str, str]
    outputs: Mapping[str, str]
    input_bucket: str
    output_bucket: str
    jobs_table: str
    api_key_secret_arn: str
    queues: Mapping[str, QueueConfig]
    functions: Mapping[str, FunctionConfig]
    template: Mapping[str, Any] = field(repr=False)


def clients_for_moto(endpoint_url: str | None = None, *, region: str = DEFAULT_REGION) -> AwsClients:
    """AWS clients for one region against moto (in-process, or a server at `endpoint_url`)."""
    # Fixed fake credentials: these clients must never be able to act on a real account.
    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
    )
    return AwsClients(session, endpoint_url=endpoint_url)


def create_stack(
    clients: AwsClients | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, str] | None = None,
    api_key: str = "al_test_key",
    webhook_url: str | None = None,
    template_path: Path = TEMPLATE_PATH,
    wire: bool = True,
) -> StackInfo:
    """Create template.yaml's stack in moto and return its physical ids and function configurations.

    `webhook_url` stands in for the Function URL when EnableWebhooks is "true" (where the runner serves the
    webhook). Unless ExistingApiKeySecretArn is given, a secret holding `api_key` is created first. With
    `wire`, the bucket settings moto drops (versioning, notifications) are applied through the S3 API.
    """
    clients = clients or clients_for_moto()
    overrides = dict(parameters or {})
    sam_template = load_template(template_path)
    if not overrides.get("ExistingApiKeySecretArn"):
        overrides["ExistingApiKeySecretArn"] = _create_api_key_secret(clients, stack_name, api_key)
    values = resolve_parameters(sam_template, overrides)
    if values["EnableWebhooks"] == "true" and webhook_url is None:
        raise ValueError(
            "EnableWebhooks=true needs webhook_url: the address where the webhook function is served"
        )
    translation = translate(sam_template, region=clients.region, template_dir=template_path.parent)
    _upload_placeholder_code(clients, translation.code_dirs)
    prepared = prepare_for_moto(translation.template, {"WebhookFunctionUrl.FunctionUrl": webhook_url or ""})
    _create_in_cloudformation(clients, stack_name, prepared, overrides)
    info = describe_stack(clients, stack_name, translation, values)
    if wire:
        wire_buckets(clients, info)
    return info


def _create_api_key_secret(clients: AwsClients, stack_name: str, api_key: str) -> str:
    response = clients.client("secretsmanager").create_secret(
        Name=f"{stack_name}-audiolasso-api-key", SecretString=api_key
    )
    return str(response["ARN"])


def _upload_placeholder_code(clients: AwsClients, code_dirs: Mapping[str, Path]) -> None:
    # moto stores but never runs this code; the runner runs the CodeUri directory itself.
    s3 = clients.client("s3")
    _ensure_bucket(s3, ARTIFACT_BUCKET, clients.region)
    for key, directory in code_dirs.items():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("PLACEHOLDER", f"runs locally from {directory}\n")
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=buffer.getvalue())


def _ensure_bucket(s3: Any, name: str, region: str) -> None:
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if name in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _create_in_cloudformation(
    clients: AwsClients, stack_name: str, template: Mapping[str, Any], overrides: Mapping[str, str]
) -> None:
    cloudformation = clients.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in overrides.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise StackCreateError(f"{stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")


def describe_stack(
    clients: AwsClients, stack_name: str, translation: Translation, values: Mapping[str, str]
) -> StackInfo:
    """Collect the physical ids and the resolved configuration of a stack created by `create_stack`."""
    cloudformation = clients.client("cloudformation")
    summaries = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    # moto lists resources whose condition was false without a logical id; some models have no physical id.
    resources = {
        summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
        for summary in summaries
        if "LogicalResourceId" in summary
    }
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    template = translation.template
    conditions = evaluate_conditions(template, values)
    queues = {
        logical_id: _queue_config(clients, logical_id, resources[logical_id])
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and logical_id in resources
    }
    functions = {
        logical_id: _function_config(clients, logical_id, resources[logical_id], translation, queues, values)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and logical_id in resources
    }
    return StackInfo(
        stack_name=stack_name,
        region=clients.region,
        parameters=dict(values),
        conditions=conditions,
        resources=resources,
        outputs=outputs,
        input_bucket=outputs["InputBucketName"],
        output_bucket=outputs["OutputBucketName"],
        jobs_table=outputs["JobsTableName"],
        api_key_secret_arn=outputs["ApiKeySecretArn"],
        queues=queues,
        functions=functions,
        template=template,
    )


def _queue_config(clients: AwsClients, logical_id: str, url: str) -> QueueConfig:
    attributes = clients.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"]) if "RedrivePolicy" in attributes else {}
    return QueueConfig(
        logical_id=logical_id,
        url=url,
        arn=attributes["QueueArn"],
        visibility_timeout=int(attributes["VisibilityTimeout"]),
        dead_letter_queue_arn=redrive.get("deadLetterTargetArn"),
        max_receive_count=int(redrive["maxReceiveCount"]) if "maxReceiveCount" in redrive else None,
        message_retention_period=int(attributes["MessageRetentionPeriod"]),
    )


def _function_config(
    clients: AwsClients,
    logical_id: str,
    function_name: str,
    translation: Translation,
    queues: Mapping[str, QueueConfig],
    values: Mapping[str, str],
) -> FunctionConfig:
    resources = translation.template["Resources"]
    properties = resources[logical_id]["Properties"]
    configuration = clients.client("lambda").get_function_configuration(FunctionName=function_name)
    layer_keys = [resources[layer["Ref"]]["Properties"]["Content"]["S3Key"] for layer in properties["Layers"]]
    return FunctionConfig(
        logical_id=logical_id,
        function_name=function_name,
        code_dir=translation.code_dirs[properties["Code"]["S3Key"]],
        handler=configuration["Handler"],
        runtime=configuration["Runtime"],
        layer_dirs=tuple(translation.code_dirs[key] for key in layer_keys),
        # Lambda environment values are strings; moto passes Number parameters through as numbers.
        environment={
            name: str(value)
            for name, value in configuration.get("Environment", {}).get("Variables", {}).items()
        },
        timeout=int(configuration["Timeout"]),
        memory_size=int(configuration["MemorySize"]),
        event_sources=_event_sources(resources, logical_id, queues, values),
        has_function_url=any(
            resource["Type"] == "AWS::Lambda::Url"
            and resource["Properties"]["TargetFunctionArn"]["Ref"] == logical_id
            for resource in resources.values()
        ),
    )


def _event_sources(
    resources: Mapping[str, Any],
    function_id: str,
    queues: Mapping[str, QueueConfig],
    values: Mapping[str, str],
) -> tuple[SqsEventSource, ...]:
    sources = []
    for resource in resources.values():
        properties = resource["Properties"]
        if resource["Type"] != "AWS::Lambda::EventSourceMapping" or properties["FunctionName"] != {
            "Ref": function_id
        }:
            continue
        queue = queues[properties["EventSourceArn"]["Fn::GetAtt"][0]]
        concurrency = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        sources.append(
            SqsEventSource(
                queue_logical_id=queue.logical_id,
                queue_url=queue.url,
                queue_arn=queue.arn,
                batch_size=int(properties.get("BatchSize", 10)),
                maximum_concurrency=None
                if concurrency is None
                else int(_parameter_value(concurrency, values)),
                function_response_types=tuple(properties.get("FunctionResponseTypes", [])),
            )
        )
    return tuple(sources)


def _parameter_value(value: Any, values: Mapping[str, str]) -> Any:
    return values[value["Ref"]] if isinstance(value, dict) else value


def wire_buckets(clients: AwsClients, info: StackInfo) -> None:
    """Apply what moto's bucket model drops: versioning and the ObjectCreated route into the ingest queue.

    A bucket the stack created gets its template NotificationConfiguration (prefix filter included); an
    existing bucket gets EventBridge notifications, which the stack's rule routes to the ingest queue.
    """
    s3 = clients.client("s3")
    s3.put_bucket_versioning(Bucket=info.input_bucket, VersioningConfiguration={"Status": "Enabled"})
    if info.conditions["UseExistingInputBucket"]:
        notification: dict[str, Any] = {"EventBridgeConfiguration": {}}
    else:
        notification = {"QueueConfigurations": [_queue_notification(info)]}
    s3.put_bucket_notification_configuration(Bucket=info.input_bucket, NotificationConfiguration=notification)


def _queue_notification(info: StackInfo) -> dict[str, Any]:
    configuration: dict[str, Any] = {
        "QueueArn": info.queues["IngestQueue"].arn,
        "Events": ["s3:ObjectCreated:*"],
    }
    prefix = info.parameters["InputPrefix"]
    if prefix:
        configuration["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    return configuration
