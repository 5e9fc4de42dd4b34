"""IoT Core's reserved topics: every topic that begins with ``$`` belongs to AWS IoT.

*Reserved topics* (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html)
lists the ``$aws/...`` topics a client may use and, for each, whether it may publish or subscribe
there; no one may create another ``$`` topic, and an operation the page does not allow can end the
connection. The broker (``decisions.py``) and the data plane (``dataplane.py``) ask the two pure
functions here. The tables follow the page's sections: rules (Basic Ingest), lifecycle and
registry events, shadows (classic and named), jobs, Device Defender, fleet provisioning, secure
tunneling, MQTT-based file delivery, device location and SiteWise. The runtime emulates only Basic
Ingest and the lifecycle events; the other services' topics are accepted as IoT Core accepts them
(nothing answers on them locally).

In the patterns, ``*`` stands for one level (a thing name, a job id, a payload format) and a
trailing ``**`` for one level or more.
"""

from __future__ import annotations

__all__ = ["is_reserved", "publish_allowed", "subscribe_allowed"]

_ACCEPTED_REJECTED = ("accepted", "rejected")
_FORMATS = ("json", "cbor")


def _expand(*patterns: str) -> tuple[tuple[str, ...], ...]:
    """``{a,b}`` alternatives expanded, each pattern split into its levels."""
    out: list[tuple[str, ...]] = []
    for pattern in patterns:
        head, brace, rest = pattern.partition("{")
        if not brace:
            out.append(tuple(pattern.split("/")))
            continue
        choices, _, tail = rest.partition("}")
        out.extend(_expand(*(f"{head}{choice}{tail}" for choice in choices.split(","))))
    return tuple(out)


_SHADOWS = ("$aws/things/*/shadow", "$aws/things/*/shadow/name/*")

PUBLISH = _expand(
    "$aws/rules/*",
    "$aws/rules/*/**",
    *(f"{prefix}/{{get,update,delete}}" for prefix in _SHADOWS),
    "$aws/things/*/jobs/{get,start-next}",
    "$aws/things/*/jobs/*/{get,update}",
    "$aws/things/*/defender/metrics/{json,cbor}",
    "$aws/certificates/{create,create-from-csr}/{json,cbor}",
    "$aws/provisioning-templates/*/provision/{json,cbor}",
    "$aws/things/*/streams/*/{get,describe}/{json,cbor}",
    "$aws/device_location/*/get_position_estimate",
)
"""The reserved topics a client may publish to."""

SUBSCRIBE = _expand(
    "$aws/events/**",
    *(f"{prefix}/{{get,update,delete}}/{{accepted,rejected}}" for prefix in _SHADOWS),
    *(f"{prefix}/update/{{delta,documents}}" for prefix in _SHADOWS),
    "$aws/things/*/jobs/{notify,notify-next}",
    "$aws/things/*/jobs/{get,start-next}/{accepted,rejected}",
    "$aws/things/*/jobs/*/{get,update}/{accepted,rejected}",
    "$aws/things/*/defender/metrics/{json,cbor}/{accepted,rejected}",
    "$aws/certificates/{create,create-from-csr}/{json,cbor}/{accepted,rejected}",
    "$aws/provisioning-templates/*/provision/{json,cbor}/{accepted,rejected}",
    "$aws/things/*/tunnels/notify",
    "$aws/things/*/streams/*/{data,description,rejected}/{json,cbor}",
    "$aws/device_location/*/get_position_estimate/{accepted,rejected}",
    "$aws/sitewise/asset-models/*/assets/*/properties/*",
)
"""The reserved topics a client may subscribe to (IoT Core publishes there)."""


def is_reserved(topic: str) -> bool:
    return topic.startswith("$")


def _topic_fits(levels: list[str], pattern: tuple[str, ...]) -> bool:
    for i, slot in enumerate(pattern):
        if slot == "**":
            return i < len(levels)
        if i >= len(levels) or (slot != "*" and slot != levels[i]) or not levels[i]:
            return False
    return len(levels) == len(pattern)


def _filter_meets(levels: list[str], pattern: tuple[str, ...]) -> bool:
    """Whether some topic both matches the filter and fits the pattern."""
    for i, level in enumerate(levels):
        if i < len(pattern) and pattern[i] == "**":
            return True
        if level == "#":
            return i < len(pattern)  # IoT Core: '#' needs at least one level there
        if i >= len(pattern):
            return False
        if level != "+" and pattern[i] != "*" and pattern[i] != level:
            return False
    return len(levels) == len(pattern)


def publish_allowed(topic: str) -> bool:
    """Whether a client may publish to ``topic``: any topic not reserved, and the reserved ones
    the page lists for publishing (a Basic Ingest topic, a shadow's ``get``...)."""
    if not is_reserved(topic):
        return True
    levels = topic.split("/")
    return any(_topic_fits(levels, pattern) for pattern in PUBLISH)


def subscribe_allowed(topic_filter: str) -> bool:
    """Whether a client may subscribe to ``topic_filter``: any filter not reserved, and a
    reserved one that can match a topic the page lists for subscribing (``$aws/events/#`` can;
    ``$aws/rules/r/room``, whose messages go to the rule only, and ``$SYS/#`` cannot). Shared
    subscriptions (``$share/...``) are decided before this."""
    if not is_reserved(topic_filter):
        return True
    levels = topic_filter.split("/")
    return any(_filter_meets(levels, pattern) for pattern in SUBSCRIBE)
