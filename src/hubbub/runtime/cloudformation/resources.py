"""Lookups every resource family needs: whether a resource exists in this deployment, the
resources of one type by physical id (the way ``Ref`` names them), and the function an
integration URI invokes, and its timeout; the range check of AWS's integer settings."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.specs import AppSpec

__all__ = [
    "ByPhysical",
    "active",
    "api_of_event",
    "bounded",
    "by_physical",
    "function_for_uri",
    "integration_timeout_s",
    "read_sam_apis",
]

ByPhysical: TypeAlias = dict[str, tuple[str, dict[str, Any]]]
"""Physical id -> (logical id, resolved Properties)."""

ApiT = TypeVar("ApiT")


def active(resource: Mapping[str, Any], resolver: Resolver) -> bool:
    """A resource whose Condition is false does not exist, as in a deployed stack."""
    condition = resource.get("Condition")
    return condition is None or resolver.conditions.get(condition, True)


def by_physical(resources: Mapping[str, Any], resolver: Resolver, kind: str) -> ByPhysical:
    """Active resources of one type by physical id, with their logical id and resolved
    Properties: other resources refer to them by ``Ref``, which resolves to the physical id."""
    out: ByPhysical = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == kind and active(resource, resolver):
            out[resolver.physical_name(logical_id)] = (
                logical_id,
                resolver.resolve(resource.get("Properties") or {}),
            )
    return out


def read_sam_apis(
    resources: Mapping[str, Any],
    resolver: Resolver,
    kind: str,
    globals_api: Mapping[str, Any],
    add: Callable[[str, dict[str, Any]], None],
) -> dict[str, str]:
    """Hands each active SAM API resource of ``kind`` to ``add`` with the template's Globals for
    that API type merged under its own Properties (SAM applies Globals first; the resource's
    own values win), and returns the names a function event may use to point at one: the
    physical name a ``Ref`` resolves to, or the bare logical id."""
    by_reference: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == kind and active(resource, resolver):
            add(logical_id, resolver.resolve({**globals_api, **(resource.get("Properties") or {})}))
            by_reference[resolver.physical_name(logical_id)] = logical_id
            by_reference[logical_id] = logical_id
    return by_reference


def api_of_event(
    apis: dict[str, ApiT],
    event: Mapping[str, Any],
    key: str,
    *,
    by_reference: Mapping[str, str],
    kind: str,
    implicit: tuple[str, Callable[[], ApiT]],
    where: str,
) -> ApiT:
    """The API a SAM function event attaches to: the ``kind`` its ``key`` property (``ApiId``,
    ``RestApiId``) names, or, when it names none, SAM's implicit API (``implicit``: its logical
    id and how to make it), created on first use. A reference to no declared API of that kind
    is a :class:`TemplateError`, not an API made up for it."""
    reference = event.get(key)
    if reference is None:
        implicit_id, make = implicit
        if implicit_id not in apis:
            apis[implicit_id] = make()
        return apis[implicit_id]
    logical_id = by_reference.get(str(reference))
    if logical_id is None:
        raise TemplateError(f"{where}: {key} {reference!r} names no {kind}")
    return apis[logical_id]


def function_for_uri(app: AppSpec, uri: str, where: str) -> str:
    """The function an integration URI invokes; the ARN must end at a boundary (``/``, ``:``
    or the end), so ``local-Foo`` is never mistaken for ``local-FooBar``."""
    for spec in app.functions.values():
        if re.search(re.escape(spec.arn) + r"(?=$|[/:])", uri):
            return spec.logical_id
    raise TemplateError(f"{where}: integration URI {uri!r} names no function of this template")


def bounded(value: Any, setting: str, low: int, high: int, where: str) -> int:
    """An integer setting AWS refuses outside ``low``-``high`` when the resource is created;
    so does the template."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise TemplateError(f"{where}: {setting} must be {low}-{high}, got {value!r}")
    return number


def integration_timeout_s(value: Any, where: str, most_ms: int) -> float | None:
    """An integration's ``TimeoutInMillis`` in seconds (None when not set): API Gateway takes
    50 ms up to ``most_ms`` (29,000 for WebSocket and REST APIs, 30,000 for HTTP APIs)."""
    if value is None:
        return None
    return bounded(value, "TimeoutInMillis", 50, most_ms, where) / 1000
