"""Tables: ``AWS::DynamoDB::Table`` and ``AWS::Serverless::SimpleTable``, kept with their resolved
Properties so the DynamoDB emulation creates them exactly as declared."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver
from hubbub.runtime.cloudformation.specs import TableSpec

__all__ = ["TABLE_TYPES", "read_table"]

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")


def read_table(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> TableSpec:
    props = resolver.resolve(resource.get("Properties") or {})
    stream = props.get("StreamSpecification") or {}
    ttl = props.get("TimeToLiveSpecification") or {}
    return TableSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        stream_view_type=stream.get("StreamViewType"),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled", False) else None,
        kind=str(resource.get("Type")),
        properties=props,
    )
