"""IoT Core's topic rules: which rules a published message reaches, what each makes of it, and
the broker's ``PublishSink`` that invokes their Lambda actions.

A message on ``$aws/rules/<ruleName>/<rest>`` (Basic Ingest) reaches that one rule and no
subscriber; its SQL sees the topic ``<rest>`` (the *Functions* page: the Basic Ingest prefix is
not available to ``topic()``) and its ``FROM`` is not consulted. Any other message reaches every
enabled rule whose ``FROM`` filter matches its topic. A rule's Lambda action invokes the
function asynchronously with the SQL's output as the event; the other actions are not emulated
and are listed when the template is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.iot.hooks import InboundMessage
from hubbub.runtime.iot.rulesql import MessageContext, Sql, parse_sql
from hubbub.runtime.iot.topics import BASIC_INGEST_PREFIX, matches

__all__ = [
    "NOT_EMULATED_ACTIONS",
    "Routed",
    "Rule",
    "RuleEngine",
    "route",
]

log = logging.getLogger("hubbub.runtime.iot")

NOT_EMULATED_ACTIONS = (
    "CloudwatchAlarm",
    "CloudwatchLogs",
    "CloudwatchMetric",
    "DynamoDB",
    "DynamoDBv2",
    "Elasticsearch",
    "Firehose",
    "Http",
    "IotAnalytics",
    "IotEvents",
    "IotSiteWise",
    "Kafka",
    "Kinesis",
    "Location",
    "OpenSearch",
    "Republish",
    "S3",
    "Sns",
    "Sqs",
    "StepFunctions",
    "Timestream",
)
"""``AWS::IoT::TopicRule`` actions the runtime reads but does not perform."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    sql: Sql
    functions: tuple[str, ...]
    """Logical ids of the functions its Lambda actions invoke."""
    disabled: bool = False

    @classmethod
    def from_text(
        cls, name: str, sql: str, functions: Sequence[str], *, disabled: bool = False
    ) -> Rule:
        return cls(name, parse_sql(sql), tuple(functions), disabled)


@dataclass(frozen=True, slots=True)
class Routed:
    rule: Rule
    topic: str
    """The topic the rule's SQL sees."""


def _basic_ingest(topic: str) -> tuple[str, str] | None:
    """(rule name, rest) of a Basic Ingest topic."""
    if not topic.startswith(BASIC_INGEST_PREFIX):
        return None
    name, _sep, rest = topic[len(BASIC_INGEST_PREFIX) :].partition("/")
    return name, rest


def route(topic: str, rules: Mapping[str, Rule]) -> list[Routed]:
    """The enabled rules a message on ``topic`` reaches."""
    ingest = _basic_ingest(topic)
    if ingest is not None:
        name, rest = ingest
        rule = rules.get(name)
        return [Routed(rule, rest)] if rule is not None and not rule.disabled else []
    return [
        Routed(rule, topic)
        for rule in rules.values()
        if not rule.disabled
        and rule.sql.topic_filter is not None
        and matches(rule.sql.topic_filter, topic)
    ]


Invoke = Callable[[str, Any], Awaitable[Any]]


class RuleEngine:
    """The broker's ``PublishSink``: each message through the rules it reaches, each Lambda
    action started without waiting (the broker's loop must not block)."""

    def __init__(self, rules: Iterable[Rule], invoke: Invoke) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.invoke = invoke
        self.stats = {"matched": 0, "invoked": 0, "failed": 0, "binary_refused": 0}
        self._tasks: set[asyncio.Task[None]] = set()

    def outputs(self, message: InboundMessage) -> list[tuple[Rule, dict[str, Any] | bytes]]:
        """What each rule the message reaches makes of it (pure; the tests' entry point)."""
        found: list[tuple[Rule, dict[str, Any] | bytes]] = []
        for routed in route(message.topic, self.rules):
            context = MessageContext(
                routed.topic, message.client_id, message.principal, message.timestamp_ms
            )
            output = routed.rule.sql.evaluate(message.payload, context)
            if output is not None:
                found.append((routed.rule, output))
        return found

    def offer(self, message: InboundMessage) -> bool:
        for rule, output in self.outputs(message):
            self.stats["matched"] += 1
            if isinstance(output, bytes):
                # the Lambda action takes JSON only (*Working with binary payloads*)
                self.stats["binary_refused"] += 1
                log.warning("rule %s: binary output cannot go to a Lambda action", rule.name)
                continue
            for function in rule.functions:
                task = asyncio.get_running_loop().create_task(self._run(rule, function, output))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return _basic_ingest(message.topic) is not None

    async def _run(self, rule: Rule, function: str, event: dict[str, Any]) -> None:
        self.stats["invoked"] += 1
        try:
            await self.invoke(function, event)
        except Exception:
            self.stats["failed"] += 1
            log.exception("rule %s: the Lambda action on %s failed", rule.name, function)

    async def drain(self) -> None:
        """Waits for the actions started so far (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
