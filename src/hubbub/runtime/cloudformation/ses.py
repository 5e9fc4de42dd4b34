"""SES identities: ``AWS::SES::EmailIdentity``, the addresses and domains a template sends
from. The runtime's SES emulation verifies each at start (SES sends from verified identities
only), so a function sending from anything else is refused as SES refuses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.specs import EmailIdentitySpec

__all__ = ["EMAIL_IDENTITY_TYPE", "read_email_identity"]

EMAIL_IDENTITY_TYPE = "AWS::SES::EmailIdentity"


def read_email_identity(
    logical_id: str, resource: Mapping[str, Any], resolver: Resolver
) -> EmailIdentitySpec:
    props = resolver.resolve(resource.get("Properties") or {})
    identity = props.get("EmailIdentity")
    if not isinstance(identity, str) or not identity.strip():
        raise TemplateError(f"{logical_id}: EmailIdentity must be an address or a domain")
    return EmailIdentitySpec(logical_id=logical_id, identity=identity.strip())
