"""``hubbub operator ... --aws`` and ``hubbub rooms --aws`` against a deployed stack's resources.

No AWS is reachable here, so the stack is stood in for by moto (the runtime's own moto server, on
127.0.0.1): a table made by hubbub's schema and the token secret in Secrets Manager. The commands
get nothing but what an operator would give them: the table name, the secret's ARN and AWS
credentials in the environment (``AWS_ENDPOINT_URL`` points every AWS client at moto).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from hubbub.chat.tokens import TokenIssuer
from hubbub.store.dynamodb.schema import create_table
from hubbub.store.port import Role
from tests.support.moto import MotoEndpoint
from tests.support.server import REPO

TABLE = "hubbub-prod-ChatTable-ABC123"


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    endpoint = MotoEndpoint().start()
    env = {
        "AWS_ENDPOINT_URL": endpoint.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    dynamodb = session.client("dynamodb", endpoint_url=endpoint.url)
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint.url)
    try:
        create_table(dynamodb, TABLE)
        secret = secrets.token_hex(32)
        arn = secretsmanager.create_secret(Name="hubbub-prod-token", SecretString=secret)["ARN"]
        yield {"env": env, "arn": arn, "secret": secret.encode()}
    finally:
        dynamodb.close()
        secretsmanager.close()
        endpoint.stop()


def hubbub(
    stack: dict[str, Any], *args: str, outputs: tuple[str, ...] | None = None
) -> subprocess.CompletedProcess[str]:
    """``hubbub *args --aws`` with the stack's outputs (or ``outputs``) and only moto's AWS env."""
    aws = (
        "--aws",
        *(("--table", TABLE, "--token-secret-arn", stack["arn"]) if outputs is None else outputs),
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "hubbub.cli", *args, *aws],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**environment, **stack["env"]},
        timeout=60,
    )


def test_operators_are_added_listed_and_removed_on_a_deployed_stack(
    stack: dict[str, Any],
) -> None:
    added = hubbub(stack, "operator", "add", "alice")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    # signed with the stack's secret, so the stack's Connect function will accept it
    user = TokenIssuer(stack["secret"], 3600).verify(token, 0)
    assert (user.role, user.nickname) == (Role.OPERATOR, "alice")

    listed = hubbub(stack, "operator", "list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["alice"]
    assert hubbub(stack, "operator", "token", "alice").stdout.strip()

    again = hubbub(stack, "operator", "add", "alice")
    assert again.returncode == 1 and "alice" in again.stderr

    removed = hubbub(stack, "operator", "remove", "alice")
    assert removed.returncode == 0, removed.stderr
    assert hubbub(stack, "operator", "list").stdout == ""
    assert hubbub(stack, "rooms").returncode == 0


def test_without_the_stack_outputs_the_aws_commands_say_what_is_missing(
    stack: dict[str, Any],
) -> None:
    result = hubbub(stack, "operator", "list", outputs=())
    assert result.returncode == 1
    assert result.stderr.startswith("hubbub: --aws needs --table and --token-secret-arn")
    assert "Traceback" not in result.stderr


def test_a_wrong_table_name_is_one_line_not_a_traceback(stack: dict[str, Any]) -> None:
    result = hubbub(stack, "rooms", outputs=("--table", "nope", "--token-secret-arn", stack["arn"]))
    assert result.returncode == 1
    assert "ResourceNotFoundException" in result.stderr
    assert "Traceback" not in result.stderr
