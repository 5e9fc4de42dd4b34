"""IoT Core policies: what a custom authorizer's ``policyDocuments`` allow a connection to do.

IoT policies look like IAM policies and are evaluated like them: a request is allowed only when
some ``Allow`` statement matches its action and resource and no ``Deny`` statement does (an
explicit Deny wins; nothing matching is a deny). Resources are ARNs
``arn:aws:iot:REGION:ACCOUNT:client/<id>`` (``iot:Connect``), ``topic/<topic>`` (``iot:Publish``,
``iot:Receive``) and ``topicfilter/<filter>`` (``iot:Subscribe``).

The traps the *Publish/Subscribe policy examples* page warns about are kept, on purpose: in a
policy ``*`` matches any run of characters *including* ``/`` and ``?`` any one character, while
MQTT's ``+`` and ``#`` are plain characters. So ``topic/room/*`` allows ``room/a/b/c`` too,
``topicfilter/room/+`` allows subscribing to the filter ``room/+`` and *not* to ``room/a``, and
``topicfilter/room/*`` allows ``room/#``. Policy variables (*IoT Core policy variables*) are
replaced by their values as literal text, so a client id holding ``*`` matches only itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIONS",
    "Policy",
    "PolicyContext",
    "PolicyError",
    "PolicySet",
    "Statement",
    "parse_policy",
]

ACTIONS = ("iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive")
"""The four actions the message broker asks about."""

_VERSIONS = ("2012-10-17", "2008-10-17")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}
"""``${*}``, ``${?}`` and ``${$}`` stand for the characters themselves, not wildcards."""


class PolicyError(ValueError):
    """A policy document IoT Core would refuse (so the connection is refused too)."""


@dataclass(frozen=True, slots=True)
class Statement:
    allow: bool
    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What policy variables resolve to for one connection. A custom authorizer's connection
    has no thing attached: ``${iot:Connection.Thing.IsAttached}`` is ``false`` and the other
    thing variables are unresolved, which makes the resource that names them match nothing."""

    region: str
    account: str
    client_id: str
    thing_name: str | None = None

    def variables(self) -> dict[str, str]:
        found = {
            "iot:ClientId": self.client_id,
            "iot:Connection.Thing.IsAttached": "true" if self.thing_name else "false",
        }
        if self.thing_name:
            found["iot:Connection.Thing.ThingName"] = self.thing_name
        return found


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise PolicyError(f"{what} must be a string or a non-empty list of strings")
    return tuple(items)


def _statement(raw: Any) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError("a statement must be an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"Effect must be Allow or Deny, not {effect!r}")
    for unsupported in ("NotAction", "NotResource", "Condition", "Principal"):
        if unsupported in raw:
            raise PolicyError(f"{unsupported} is not emulated locally")
    return Statement(
        allow=effect == "Allow",
        actions=_strings(raw.get("Action"), "Action"),
        resources=_strings(raw.get("Resource"), "Resource"),
    )


def parse_policy(document: str | Mapping[str, Any]) -> Policy:
    """A policy from its JSON text (what ``policyDocuments`` holds) or its parsed object."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyError(f"not JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise PolicyError("a policy document must be a JSON object")
    version = document.get("Version", "2012-10-17")
    if version not in _VERSIONS:
        raise PolicyError(f"unknown policy Version {version!r}")
    raw = document.get("Statement")
    raws = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raws, list) or not raws:
        raise PolicyError("Statement must be an object or a non-empty list")
    return Policy(tuple(_statement(s) for s in raws))


def _wildcard_regex(pattern: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)


def _resource_regex(pattern: str, variables: Mapping[str, str]) -> re.Pattern[str] | None:
    """The pattern with its variables' values inserted literally; None when a variable has no
    value (IAM's rule: the resource then matches nothing)."""
    out: list[str] = []
    last = 0
    for match in _VARIABLE.finditer(pattern):
        out.append(_wildcard_regex(pattern[last : match.start()]))
        name = match.group(1)
        value = _LITERAL_VARIABLES.get(name, variables.get(name))
        if value is None:
            return None
        out.append(re.escape(value))
        last = match.end()
    out.append(_wildcard_regex(pattern[last:]))
    return re.compile("".join(out), re.DOTALL)


def _action_matches(pattern: str, action: str) -> bool:
    """Action names compare case-insensitively, as in IAM."""
    return re.fullmatch(_wildcard_regex(pattern.lower()), action.lower()) is not None


@dataclass(frozen=True, slots=True)
class _Compiled:
    allow: tuple[re.Pattern[str], ...]
    deny: tuple[re.Pattern[str], ...]


class PolicySet:
    """The union of a connection's policies with its variables resolved: the broker's
    ``Permissions``. Each answer is the ARN of the resource checked against the statements
    naming that action."""

    def __init__(self, policies: Iterable[Policy], context: PolicyContext) -> None:
        self.context = context
        self._prefix = f"arn:aws:iot:{context.region}:{context.account}:"
        variables = context.variables()
        statements = [s for p in policies for s in p.statements]
        self._by_action = {
            action: self._compile(statements, action, variables) for action in ACTIONS
        }

    @staticmethod
    def _compile(
        statements: Sequence[Statement], action: str, variables: Mapping[str, str]
    ) -> _Compiled:
        allow: list[re.Pattern[str]] = []
        deny: list[re.Pattern[str]] = []
        for statement in statements:
            if not any(_action_matches(a, action) for a in statement.actions):
                continue
            for resource in statement.resources:
                regex = _resource_regex(resource, variables)
                if regex is not None:
                    (allow if statement.allow else deny).append(regex)
        return _Compiled(tuple(allow), tuple(deny))

    def allows(self, action: str, resource_arn: str) -> bool:
        compiled = self._by_action[action]
        if any(r.fullmatch(resource_arn) for r in compiled.deny):
            return False
        return any(r.fullmatch(resource_arn) for r in compiled.allow)

    def can_connect(self, client_id: str) -> bool:
        return self.allows("iot:Connect", f"{self._prefix}client/{client_id}")

    def can_publish(self, topic: str) -> bool:
        return self.allows("iot:Publish", f"{self._prefix}topic/{topic}")

    def can_subscribe(self, topic_filter: str) -> bool:
        return self.allows("iot:Subscribe", f"{self._prefix}topicfilter/{topic_filter}")

    def can_receive(self, topic: str) -> bool:
        return self.allows("iot:Receive", f"{self._prefix}topic/{topic}")
