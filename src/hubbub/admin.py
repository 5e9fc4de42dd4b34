"""Administration from the command line: operators, tokens, rooms, wherever the chat's data is.

It builds the same ``Chat`` the Lambda handlers build, from the same environment variables, so an
operator added here is seen by the running handlers at once:

* a local data dir (``hubbub serve``'s default SQLite store, or its ``--store dynamodb`` mode with
  ``--dynamodb-endpoint``), where the token secret is the data dir's ``token-secret``;
* a deployed stack (``--aws``): the table and the token secret by name, with your AWS credentials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbub.chat.service import Chat
from hubbub.handlers.bootstrap import build_chat
from hubbub.ids import ConnectionId
from hubbub.push.port import Hangup, Push, PushOutcome
from hubbub.runtime.cloudformation import load_app
from hubbub.runtime.datadir import make_private, private_umask

__all__ = ["Target", "admin_chat", "admin_hangup"]


class AdminPush(Push):
    """Administration changes data and never pushes; a push here would be a bug, so it says so."""

    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        raise RuntimeError("administrative commands do not push to connections")


@dataclass(frozen=True, slots=True)
class Target:
    template: Path
    data_dir: Path
    store: str = "sqlite"
    dynamodb_endpoint: str | None = None
    stack_name: str = "local"
    aws: bool = False
    table: str | None = None
    token_secret_arn: str | None = None
    connections_url: str | None = None


def admin_chat(target: Target) -> Chat:
    if target.aws:
        if not target.table or not target.token_secret_arn:
            raise ValueError("--aws needs --table and --token-secret-arn (the stack's outputs)")
        env = {
            "TABLE_NAME": target.table,
            "TOKEN_SECRET_ARN": target.token_secret_arn,
            "HUBBUB_STORE": "dynamodb",
        }
        return build_chat(env, push=AdminPush())
    app = load_app(target.template, stack_name=target.stack_name)
    spec = app.functions.get("MessageFunction") or next(iter(app.functions.values()))
    private_umask()
    make_private(target.data_dir)
    env = {
        **spec.environment,
        "HUBBUB_RUNTIME_DATA_DIR": str(target.data_dir.resolve()),
        "HUBBUB_CLOCK_OFFSET_FILE": str((target.data_dir / "clock-offset").resolve()),
        "HUBBUB_STORE": target.store,
    }
    if target.dynamodb_endpoint:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = target.dynamodb_endpoint
    return build_chat(env, push=AdminPush())


def admin_hangup(target: Target) -> Hangup | None:
    """What closes connections for ``hubbub operator remove``: ``@connections`` DELETE on the
    stack's endpoint (``--connections-url``, with your AWS credentials), or on the runtime that
    serves this data dir, signed with the credentials it hands its functions. None when neither
    is known (no ``--connections-url``; no runtime running on the data dir)."""
    from hubbub.push.aws.adapter import ApiGatewayPush

    if target.aws or target.connections_url:
        return ApiGatewayPush(target.connections_url) if target.connections_url else None
    try:
        info = json.loads((target.data_dir / "runtime-info.json").read_text())
        credentials = json.loads((target.data_dir / "runtime-credentials.json").read_text())
        url = next(iter(info["connections"].values()))
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    return ApiGatewayPush(url, client=_runtime_client(url, info.get("region"), credentials))


def _runtime_client(url: str, region: str | None, credentials: dict[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=url,
        region_name=region or "us-east-1",
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
    )
