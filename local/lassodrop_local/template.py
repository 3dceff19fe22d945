"""template.yaml as data, without any AWS call: read it, translate it from SAM to plain CloudFormation
offline (aws-sam-translator), check parameters the way CloudFormation would, and prepare the result for moto.

moto's CloudFormation does not cover the whole template, so `prepare_for_moto` drops what it cannot or must
not create (`lassodrop_local.stack` plays or records what is dropped):

- Event source mappings: in moto an SQS mapping makes SendMessage invoke the function itself (through Docker).
  The local runner polls the queues as Lambda would.
- Resources moto has no CloudFormation model for (queue and bucket policies, alarms, the secret, the Function
  URL and its permissions) only matter in AWS. A GetAtt of a dropped resource takes a given stand-in value.
- moto ignores the template's Rules and parameter constraints; `resolve_parameters` enforces them so a local
  configuration fails the way a deployment would.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
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

# moto has no CloudFormation model for these; they control access and alerting in AWS only.
NOT_IN_MOTO = frozenset(
    {
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::TopicPolicy",
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
