"""Lookups every resource family needs: whether a resource exists in this deployment, the
resources of one type by physical id (the way ``Ref`` names them), and the function an
integration URI invokes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeAlias

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.specs import AppSpec

__all__ = ["ByPhysical", "active", "by_physical", "function_for_uri"]

ByPhysical: TypeAlias = dict[str, tuple[str, dict[str, Any]]]
"""Physical id -> (logical id, resolved Properties)."""


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


def function_for_uri(app: AppSpec, uri: str, where: str) -> str:
    """The function an integration URI invokes; the ARN must end at a boundary (``/``, ``:``
    or the end), so ``local-Foo`` is never mistaken for ``local-FooBar``."""
    for spec in app.functions.values():
        if re.search(re.escape(spec.arn) + r"(?=$|[/:])", uri):
            return spec.logical_id
    raise TemplateError(f"{where}: integration URI {uri!r} names no function of this template")
