"""Build the stack that template.yaml declares in moto, so tests and the embedded stack cannot drift from it.

The SAM template is translated offline with aws-sam-translator into plain CloudFormation and created in moto's
CloudFormation (in-process under `mock_aws`, or a moto server given its endpoint URL). moto covers most of it;
what it does not, this module either plays through the ordinary APIs or leaves to the local runner:

- Lambda functions and the layer ARE created in moto (from tiny placeholder zips) because moto then resolves
  each function's Environment, Timeout and MemorySize exactly as CloudFormation would; the code that runs
  locally is the CodeUri/ContentUri directory, recorded here.
- Event source mappings are stripped and recorded instead: in moto an SQS mapping makes SendMessage invoke the
  function itself (through Docker). The local runner polls the queues as Lambda would.
- Resources moto has no CloudFormation model for (queue and bucket policies, alarms, the secret, the Function
  URL and its permissions) only matter in AWS; they are stripped. The API key secret is created through the
  Secrets Manager API and handed in through the ExistingApiKeySecretArn parameter.
- moto's bucket model ignores versioning and notifications, so `wire_buckets` applies them through the S3 API.
- moto ignores the template's Rules and parameter constraints; `resolve_parameters` enforces them so a local
  configuration fails the way a deployment would.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ARTIFACT_BUCKET = "lassodrop-local-artifacts"
DEFAULT_STACK_NAME = "lassodrop"

# moto has no CloudFormation model for these; they control access and alerting in AWS only.
NOT_IN_MOTO = frozenset(
    {
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::SecretsManager::Secret",
        "AWS::Lambda::Url",
    }
)
# The local runner plays these (queue polling, the webhook endpoint).
PLAYED_BY_RUNNER = frozenset({"AWS::Lambda::EventSourceMapping", "AWS::Lambda::Permission"})

_FUNCTION = "AWS::Serverless::Function"
_LAYER = "AWS::Serverless::LayerVersion"


class TemplateRuleError(ValueError):
    """The parameters break a template Rule or a parameter constraint (CloudFormation would refuse them)."""


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


@dataclass(frozen=True)
class Translation:
    """The translated template, and the local directory behind each placeholder code location."""

    template: dict[str, Any]
    code_dirs: Mapping[str, Path]


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read a (SAM) template with CloudFormation's short-form tags into plain dicts and lists."""
    template, errors = decode(str(path))
    if errors or template is None:
        raise ValueError(f"cannot read {path}: {[str(error) for error in errors]}")
    return json.loads(json.dumps(template))


def translate(
    sam_template: Mapping[str, Any],
    *,
    region: str = "us-east-1",
    template_dir: Path = REPO_ROOT,
    artifact_bucket: str = ARTIFACT_BUCKET,
) -> Translation:
    """Translate SAM to CloudFormation offline, pointing code and layers at placeholder S3 objects."""
    template = copy.deepcopy(dict(sam_template))
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        uri_property = {_FUNCTION: "CodeUri", _LAYER: "ContentUri"}.get(resource["Type"])
        if uri_property is None:
            continue
        key = f"{logical_id}.zip"
        code_dirs[key] = (template_dir / resource["Properties"][uri_property]).resolve()
        resource["Properties"][uri_property] = {"Bucket": artifact_bucket, "Key": key}
    # Translator rather than samtranslator's transform(): transform() takes the region from the default boto3
    # session (the machine's configuration). A session only names the region here; nothing calls AWS, and
    # managed policy names come from the translator's bundled list instead of IAM.
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region), metrics=metrics)
    translated = translator.translate(template, parameter_values={}, get_managed_policy_map=_bundled_policies)
    metrics.publish()  # to the dummy publisher; unpublished metrics are logged as a warning
    return Translation(template=translated, code_dirs=code_dirs)


def _bundled_policies() -> dict[str, str]:
    return dict(get_bundled_managed_policy_map("aws") or {})


def resolve_parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Defaults plus overrides, checked against each parameter's constraints and the template's Rules."""
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateRuleError(f"unknown parameters: {sorted(unknown)}")
    values = {name: str(overrides.get(name, spec.get("Default", ""))) for name, spec in declared.items()}
    for name, spec in declared.items():
        _check_constraints(name, values[name], spec)
    _check_rules(template.get("Rules", {}), values)
    return values


def _check_constraints(name: str, value: str, spec: Mapping[str, Any]) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(choice) for choice in allowed]:
        raise TemplateRuleError(f"{name}={value!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise TemplateRuleError(f"{name}={value!r}: {spec.get('ConstraintDescription', pattern)}")
    if spec.get("Type") == "Number":
        number = float(value)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateRuleError(f"{name}={value} is below {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateRuleError(f"{name}={value} is above {spec['MaxValue']}")


def _check_rules(rules: Mapping[str, Any], values: Mapping[str, str]) -> None:
    for rule_name, rule in rules.items():
        if "RuleCondition" in rule and not evaluate_condition(rule["RuleCondition"], values, {}):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate_condition(assertion["Assert"], values, {}):
                raise TemplateRuleError(
                    f"{rule_name}: {assertion.get('AssertDescription', 'assertion failed')}"
                )


def evaluate_condition(expression: Any, values: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """Evaluate CloudFormation's condition subset: Ref to a parameter, Equals, Not, And, Or, Condition."""
    if not isinstance(expression, dict):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return values[argument]
    if function == "Condition":
        return evaluate_condition(conditions[argument], values, conditions)
    operands = [evaluate_condition(operand, values, conditions) for operand in argument]
    if function == "Fn::Equals":
        return str(operands[0]) == str(operands[1])
    if function == "Fn::Not":
        return not operands[0]
    if function == "Fn::And":
        return all(operands)
    if function == "Fn::Or":
        return any(operands)
    raise ValueError(f"unsupported function in a condition: {function}")


def evaluate_conditions(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, bool]:
    conditions = template.get("Conditions", {})
    return {name: bool(evaluate_condition(expr, values, conditions)) for name, expr in conditions.items()}


def prepare_for_moto(template: Mapping[str, Any], stand_ins: Mapping[str, str]) -> dict[str, Any]:
    """Drop what moto cannot or must not create; `stand_ins` maps "Logical.Attribute" of dropped ones."""
    prepared = copy.deepcopy(dict(template))
    dropped = {
        logical_id
        for logical_id, resource in prepared["Resources"].items()
        if resource["Type"] in NOT_IN_MOTO | PLAYED_BY_RUNNER
    }
    for logical_id in dropped:
        del prepared["Resources"][logical_id]
    for resource in prepared["Resources"].values():
        depends_on = resource.get("DependsOn")
        if depends_on is not None:
            remaining = [name for name in _as_list(depends_on) if name not in dropped]
            resource.pop("DependsOn")
            if remaining:
                resource["DependsOn"] = remaining
    prepared.pop("Rules", None)
    return _replace_get_atts(prepared, dropped, stand_ins)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _replace_get_atts(node: Any, dropped: set[str], stand_ins: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_replace_get_atts(item, dropped, stand_ins) for item in node]
    if not isinstance(node, dict):
        return node
    get_att = node.get("Fn::GetAtt")
    if get_att is not None and len(node) == 1 and get_att[0] in dropped:
        name = ".".join(get_att)
        # Left in place when there is no stand-in: moto then fails loudly if the value is ever needed.
        return stand_ins.get(name, node)
    return {key: _replace_get_atts(value, dropped, stand_ins) for key, value in node.items()}


@dataclass(frozen=True)
class AwsClients:
    """boto3 clients for one region, against moto (in-process or a server at `endpoint_url`)."""

    region: str = "us-east-1"
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        # Fixed fake credentials: these clients must never be able to act on a real account.
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
        )


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
    clients = clients or AwsClients()
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
