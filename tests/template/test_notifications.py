"""NotificationEmail: one SNS topic told of waiting, resumed, failed and rejected files and of every alarm."""

import json
from collections.abc import Callable
from typing import Any

from lassodrop_local.stack import AwsClients, StackInfo, Translation

BuildStack = Callable[..., StackInfo]
EMAIL = "ops@example.com"
TOLD = ["Pipeline Waiting", "Pipeline Resumed", "Separation Failed", "Separation Rejected"]
# The given AlarmTopicArn, the NotificationEmail topic, both, or neither.
ACTIONS = {
    "Fn::If": [
        "HasAlarmTopic",
        {
            "Fn::If": [
                "HasNotificationEmail",
                [{"Ref": "AlarmTopicArn"}, {"Ref": "NotificationTopic"}],
                [{"Ref": "AlarmTopicArn"}],
            ]
        },
        {"Fn::If": ["HasNotificationEmail", [{"Ref": "NotificationTopic"}], {"Ref": "AWS::NoValue"}]},
    ]
}


def _alarms(translation: Translation) -> dict[str, dict[str, Any]]:
    resources = translation.template["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_an_email_gets_a_topic_fed_by_the_events_a_person_should_see(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack({"NotificationEmail": EMAIL})

    topic = stack.outputs["NotificationTopicArn"]
    subscriptions = moto_clients.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", EMAIL)]
    events = moto_clients.client("events")
    rule = events.describe_rule(Name=stack.resources["NotificationRule"])
    assert json.loads(rule["EventPattern"]) == {"source": ["lassodrop"], "detail-type": TOLD}
    targets = events.list_targets_by_rule(Rule=stack.resources["NotificationRule"])["Targets"]
    assert [target["Arn"] for target in targets] == [topic]


def test_without_an_email_there_is_no_topic_and_no_rule(
    build_stack: BuildStack, moto_clients: AwsClients
) -> None:
    stack = build_stack()

    assert "NotificationTopic" not in stack.resources
    assert "NotificationRule" not in stack.resources
    assert moto_clients.client("sns").list_topics()["Topics"] == []


def test_every_alarm_tells_the_alarm_topic_the_email_topic_both_or_neither(translation: Translation) -> None:
    alarms = _alarms(translation)

    assert len(alarms) >= 9
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == ACTIONS, name
        assert alarm["OKActions"] == ACTIONS, name


def test_only_the_rule_and_this_accounts_alarms_may_publish_to_the_topic(translation: Translation) -> None:
    policy = translation.template["Resources"]["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]

    grants = {s["Principal"]["Service"]: s["Condition"] for s in policy["Statement"]}
    assert grants == {
        "events.amazonaws.com": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["NotificationRule", "Arn"]}}},
        "cloudwatch.amazonaws.com": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
    }


def test_the_pipelines_alarms_watch_waiting_files_failed_files_and_rejected_objects(
    translation: Translation,
) -> None:
    watched = set()
    for alarm in _alarms(translation).values():
        if alarm.get("Namespace") == "Lassodrop":
            watched.add(alarm["MetricName"])
        for query in alarm.get("Metrics", []):
            if "MetricStat" in query:
                watched.add(query["MetricStat"]["Metric"]["MetricName"])

    assert watched == {"FilesWaiting", "ObjectsRejected", "JobsFailed", "JobsTimedOut", "JobsExpired"}
