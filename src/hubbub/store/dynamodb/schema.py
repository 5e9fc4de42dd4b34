"""The DynamoDB table of the chat, as code, for local use and tests.

``template.yaml`` (``ChatTable``) is the source of truth on AWS; ``table_definition`` restates the
parts a table needs to behave the same under moto or DynamoDB Local, so a test table cannot drift
from the deployed one without the contract suite noticing. Point-in-time recovery and encryption
are deployment concerns that emulators ignore, so they stay in the template only.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["GSI1", "SANCTIONS_BY_USER", "TTL_ATTRIBUTE", "create_table", "table_definition"]

GSI1 = "gsi1"
SANCTIONS_BY_USER = "sanctionsByUser"
"""Sparse: only sanction items carry its hash key, ``user``."""
TTL_ATTRIBUTE = "expiresAt"


def _string_attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _key_schema(hash_key: str, range_key: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": hash_key, "KeyType": "HASH"},
        {"AttributeName": range_key, "KeyType": "RANGE"},
    ]


def table_definition(name: str) -> dict[str, Any]:
    """CreateTable kwargs equal to ``ChatTable``: pk/sk, GSIs gsi1 and sanctionsByUser,
    on-demand, NEW_IMAGE stream."""
    return {
        "TableName": name,
        "AttributeDefinitions": _string_attributes("pk", "sk", "gsi1pk", "gsi1sk", "user"),
        "KeySchema": _key_schema("pk", "sk"),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI1,
                "KeySchema": _key_schema("gsi1pk", "gsi1sk"),
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": SANCTIONS_BY_USER,
                "KeySchema": _key_schema("user", "sk"),
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


def create_table(client: Any, name: str) -> None:
    """Create the table (or accept an existing one), wait until ACTIVE, and enable TTL.

    Creating is idempotent so a developer can run it against a long-lived DynamoDB Local.
    """
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(**table_definition(name))
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
    )
