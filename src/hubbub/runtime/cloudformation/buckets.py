"""``AWS::S3::Bucket``: its name and the parts the local S3 front honours (CORS), and the parts it
only lists (lifecycle rules, which need days to mean anything)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver
from hubbub.runtime.cloudformation.specs import BucketSpec

__all__ = ["BUCKET_TYPE", "read_bucket"]

BUCKET_TYPE = "AWS::S3::Bucket"


def read_bucket(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> BucketSpec:
    props = resolver.resolve(resource.get("Properties") or {})
    cors = (props.get("CorsConfiguration") or {}).get("CorsRules") or []
    lifecycle = (props.get("LifecycleConfiguration") or {}).get("Rules") or []
    return BucketSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        cors_rules=tuple(dict(rule) for rule in cors),
        lifecycle_rules=tuple(dict(rule) for rule in lifecycle),
    )
