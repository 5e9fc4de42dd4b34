"""The template's queues, topics and subscriptions, created in the embedded moto, and the
on-failure destinations that send to them.

Queues are created first without their ``RedrivePolicy`` (its dead-letter queue may come later
in the template), then the policy is set; moto then moves a message to the DLQ once it has
been received ``maxReceiveCount`` times, as SQS does. A topic's ``sqs`` subscription is made in
moto, which delivers to the queue itself. A ``lambda`` subscription is made to a queue of the
runtime's own (``hubbub-sns-*``), which a poller turns into SNS events for the function: moto
cannot call the runtime's functions, and so SNS's filter policies and fan-out stay moto's.

Creating is idempotent (an existing queue or topic is reused), so a long-lived endpoint keeps
its messages across restarts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hubbub.runtime.cloudformation import AppSpec, SubscriptionSpec

__all__ = ["Destinations", "Messaging", "ProvisionedQueue", "provision_messaging"]

log = logging.getLogger("hubbub.sqs")


@dataclass(frozen=True, slots=True)
class ProvisionedQueue:
    logical_id: str
    name: str
    arn: str
    url: str
    """The URL the endpoint answers to (moto's own, on the local endpoint)."""


@dataclass(frozen=True, slots=True)
class LambdaSubscription:
    """A topic's subscription of a function, carried by an internal queue."""

    spec: SubscriptionSpec
    subscription_arn: str
    queue: ProvisionedQueue


@dataclass(slots=True)
class Messaging:
    queues: dict[str, ProvisionedQueue] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    """Topic logical id -> ARN."""
    lambda_subscriptions: list[LambdaSubscription] = field(default_factory=list)

    def queue_by_arn(self, arn: str) -> ProvisionedQueue | None:
        return next((q for q in self.queues.values() if q.arn == arn), None)


def _create_queue(sqs: Any, logical_id: str, name: str, attributes: Mapping[str, str]) -> Any:
    url = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return ProvisionedQueue(logical_id, name, arn, url)


def provision_messaging(sqs: Any, sns: Any, spec: AppSpec) -> Messaging:
    """Blocking: create every queue, topic and subscription of the template."""
    out = Messaging()
    for logical_id, queue in spec.queues.items():
        first = {k: v for k, v in queue.attributes.items() if k not in ("RedrivePolicy",)}
        out.queues[logical_id] = _create_queue(sqs, logical_id, queue.name, first)
        log.info("queue %s created (%s)", queue.name, logical_id)
    for logical_id, queue in spec.queues.items():
        if "RedrivePolicy" in queue.attributes:
            sqs.set_queue_attributes(
                QueueUrl=out.queues[logical_id].url,
                Attributes={"RedrivePolicy": queue.attributes["RedrivePolicy"]},
            )
    for logical_id, topic in spec.topics.items():
        attributes = dict(topic.attributes)
        out.topics[logical_id] = sns.create_topic(Name=topic.name, Attributes=attributes)[
            "TopicArn"
        ]
        log.info("topic %s created (%s)", topic.name, logical_id)
    for sub in spec.subscriptions:
        _subscribe(sqs, sns, spec, out, sub)
    return out


def _subscribe(sqs: Any, sns: Any, spec: AppSpec, out: Messaging, sub: SubscriptionSpec) -> None:
    topic_arn = out.topics[sub.topic]
    attributes = dict(sub.attributes)
    if sub.protocol == "sqs":
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=sub.endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return
    digest = hashlib.sha256(f"{topic_arn}/{sub.name}".encode()).hexdigest()[:12]
    name = f"hubbub-sns-{sub.endpoint[:40]}-{digest}"
    # a notification comes back for a retry once the function's timeout has surely passed
    retry_after_s = math.ceil(spec.functions[sub.endpoint].timeout_s) + 1
    carrier = _create_queue(
        sqs, f"{sub.name}(carrier)", name, {"VisibilityTimeout": str(retry_after_s)}
    )
    attributes.pop("RawMessageDelivery", None)  # the bridge needs the notification envelope
    answer = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=carrier.arn,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    out.lambda_subscriptions.append(
        LambdaSubscription(sub, str(answer["SubscriptionArn"]), carrier)
    )


class Destinations:
    """Sends a document to an on-failure destination: an SQS queue or an SNS topic, by ARN."""

    def __init__(self, sqs: Any, sns: Any, messaging: Messaging) -> None:
        self._sqs = sqs
        self._sns = sns
        self._messaging = messaging

    def send(self, arn: str, document: Mapping[str, Any]) -> None:
        """Blocking. Raises ``LookupError`` for an ARN that is neither a queue nor a topic of
        the endpoint."""
        body = json.dumps(document)
        if arn.startswith("arn:aws:sns:"):
            self._sns.publish(TopicArn=arn, Message=body)
            return
        queue = self._messaging.queue_by_arn(arn)
        if queue is None:
            raise LookupError(f"no queue or topic {arn}")
        self._sqs.send_message(QueueUrl=queue.url, MessageBody=body)
