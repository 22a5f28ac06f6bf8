"""Alarms on the queues where messages end that nobody processes any more."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import Aws, CfnCondition, Duration, Fn, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct


def queue_alarms(
    scope: Construct,
    watched: Sequence[tuple[str, sqs.IQueue, str]],
    topic_arn: str,
) -> list[cloudwatch.Alarm]:
    """An alarm per ``(id, queue, description)`` when the queue holds any message.

    Args:
        scope: Where the alarms (and the condition on the topic) are made.
        watched: The queues, each with the alarm's id and description.
        topic_arn: The SNS topic notified on alarm and back to OK: empty for none, or a
            parameter's value (then only when the parameter is not empty).
    """
    actions: object = None
    if Token.is_unresolved(topic_arn):  # a parameter: only when it is set
        condition = CfnCondition(
            scope,
            "HasAlarmTopic",
            expression=Fn.condition_not(Fn.condition_equals(topic_arn, "")),
        )
        actions = Fn.condition_if(condition.logical_id, [topic_arn], Aws.NO_VALUE)
    elif topic_arn:
        actions = [topic_arn]
    alarms = []
    for alarm_id, queue, description in watched:
        alarm = cloudwatch.Alarm(
            scope,
            alarm_id,
            alarm_description=description,
            metric=queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if actions is not None:
            cfn_alarm = alarm.node.default_child
            assert isinstance(cfn_alarm, cloudwatch.CfnAlarm)
            cfn_alarm.add_property_override("AlarmActions", actions)
            cfn_alarm.add_property_override("OKActions", actions)
            # The synth-time validator reads the parameter's empty default into the
            # ARN; the condition leaves the actions out in exactly that case.
            cdk.Validations.of(cfn_alarm).acknowledge(
                cdk.Acknowledgment(
                    id="CloudFormation-Validate::F3033",
                    reason="the actions are left out when the topic ARN is empty",
                )
            )
        alarms.append(alarm)
    return alarms
