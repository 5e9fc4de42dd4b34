"""Queues and topics: ``AWS::SQS::Queue``, ``AWS::SNS::Topic`` and their subscriptions
(``AWS::SNS::Subscription``, a topic's ``Subscription`` list, SAM's ``SNS`` event), and the SQS
event sources of functions (SAM's ``SQS`` event, ``AWS::Lambda::EventSourceMapping`` on a queue).

Queue and topic properties become the attributes SQS and SNS take at creation, spelt as those
APIs spell them, so the emulation creates them as declared (``RedrivePolicy`` keeps the DLQ's
ARN, which moto then honours).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.resources import active
from hubbub.runtime.cloudformation.specs import (
    AppSpec,
    QueueMappingSpec,
    QueueSpec,
    SubscriptionSpec,
    TopicSpec,
)
from hubbub.runtime.dynamodb.filters import FilterError, compile_filters

__all__ = [
    "QUEUE_TYPE",
    "SUBSCRIPTION_TYPE",
    "TOPIC_TYPE",
    "queue_mapping",
    "queue_of",
    "read_queue",
    "read_subscriptions",
    "read_topic",
    "sns_event",
]

QUEUE_TYPE = "AWS::SQS::Queue"
TOPIC_TYPE = "AWS::SNS::Topic"
SUBSCRIPTION_TYPE = "AWS::SNS::Subscription"

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)
_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")
_TOPIC_ATTRIBUTES = ("DisplayName", "FifoTopic", "ContentBasedDeduplication")
_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicyScope", "RawMessageDelivery")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def read_queue(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> QueueSpec:
    props = resolver.resolve(resource.get("Properties") or {})
    attributes = {k: _text(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
    attributes.update({k: _text(props[k]) for k in _JSON_ATTRIBUTES if k in props})
    return QueueSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        arn=str(resolver.get_att(logical_id, "Arn")),
        url=str(resolver.get_att(logical_id, "QueueUrl")),
        attributes=attributes,
    )


def read_topic(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> TopicSpec:
    props = resolver.resolve(resource.get("Properties") or {})
    return TopicSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        arn=str(resolver.get_att(logical_id, "TopicArn")),
        attributes={k: _text(props[k]) for k in _TOPIC_ATTRIBUTES if k in props},
    )


def read_subscriptions(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    """``AWS::SNS::Subscription`` resources and the ``Subscription`` lists of topics; read after
    queues, topics and functions, which they name."""
    for logical_id, resource in resources.items():
        if not active(resource, resolver):
            continue
        if resource.get("Type") == SUBSCRIPTION_TYPE:
            props = resolver.resolve(resource.get("Properties") or {})
            _subscribe(app, logical_id, props)
        elif resource.get("Type") == TOPIC_TYPE:
            props = resolver.resolve(resource.get("Properties") or {})
            for index, item in enumerate(props.get("Subscription") or []):
                name = f"{logical_id}.Subscription{index}"
                _subscribe(app, name, {**item, "TopicArn": logical_id})


def sns_event(app: AppSpec, name: str, function: str, props: Mapping[str, Any]) -> None:
    """SAM's ``SNS`` event: the function subscribed to the topic (with ``SqsSubscription``, SAM
    puts a queue in between; locally the function is subscribed directly)."""
    _subscribe(
        app,
        name,
        {
            "TopicArn": props.get("Topic"),
            "Protocol": "lambda",
            "Endpoint": function,
            **{k: props[k] for k in ("FilterPolicy", "FilterPolicyScope") if k in props},
        },
    )


def _topic_of(app: AppSpec, ref: Any) -> str | None:
    for logical_id, topic in app.topics.items():
        if ref in (topic.arn, logical_id):
            return logical_id
    return None


def _subscribe(app: AppSpec, name: str, props: Mapping[str, Any]) -> None:
    topic = _topic_of(app, props.get("TopicArn"))
    protocol = str(props.get("Protocol", "")).lower()
    endpoint = props.get("Endpoint")
    if topic is None:
        app.unsupported.append((name, f"subscription to topic {props.get('TopicArn')!r}"))
        return
    if protocol == "lambda":
        function = _function_of(app, endpoint)
        if function is None:
            raise TemplateError(f"{name}: Endpoint names no function of this template")
        endpoint = function
    elif protocol != "sqs":
        app.unsupported.append((name, f"{protocol} subscription"))
        return
    attributes = {k: _text(props[k]) for k in _SUBSCRIPTION_ATTRIBUTES if k in props}
    if "FilterPolicy" in props:
        attributes["FilterPolicy"] = _text(props["FilterPolicy"])
    app.subscriptions.append(SubscriptionSpec(name, topic, protocol, str(endpoint), attributes))


def _function_of(app: AppSpec, ref: Any) -> str | None:
    text = str(ref)
    for spec in app.functions.values():
        if text in (spec.name, spec.arn, spec.logical_id):
            return spec.logical_id
    return None


def queue_of(app: AppSpec, arn: str) -> str | None:
    """The logical id of the template's queue with this ARN."""
    return next((q.logical_id for q in app.queues.values() if q.arn == arn), None)


def queue_mapping(
    name: str, function: str, queue: str, props: Mapping[str, Any], *, fifo: bool = False
) -> QueueMappingSpec:
    """An SQS event source with Lambda's defaults (``BatchSize`` 10, no batching window).

    A FIFO queue takes at most 10 messages per batch and no batching window ("Lambda
    parameters for Amazon SQS event source mappings", AWS Lambda Developer Guide), which Lambda
    refuses at creation and so does this reader."""
    batch_size = int(props.get("BatchSize", 10))
    window = float(props.get("MaximumBatchingWindowInSeconds", 0))
    if fifo and batch_size > 10:
        raise TemplateError(f"{name}: BatchSize must be 1 to 10 for a FIFO queue")
    if fifo and window > 0:
        raise TemplateError(f"{name}: a FIFO queue takes no MaximumBatchingWindowInSeconds")
    if not 1 <= batch_size <= 10_000:
        raise TemplateError(f"{name}: BatchSize must be 1 to 10000 for an SQS queue")
    if batch_size > 10 and window < 1:
        raise TemplateError(
            f"{name}: a BatchSize over 10 needs MaximumBatchingWindowInSeconds of at least 1"
        )
    scaling = props.get("ScalingConfig") or {}
    try:
        filters = compile_filters(props.get("FilterCriteria"), name)
    except FilterError as exc:
        raise TemplateError(str(exc)) from None
    return QueueMappingSpec(
        name=name,
        function=function,
        queue=queue,
        batch_size=batch_size,
        maximum_batching_window_s=window,
        report_batch_item_failures="ReportBatchItemFailures"
        in (props.get("FunctionResponseTypes") or []),
        enabled=bool(props.get("Enabled", True)),
        filters=filters,
        maximum_concurrency=(
            int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None
        ),
    )
