"""``hubbub operator`` and ``hubbub rooms`` work on the DynamoDB store as on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hubbub.client import HubbubClient
from tests.support.server import REPO, ServerProcess


def admin(proc: ServerProcess, *args: str) -> str:
    info = proc.admin("info")
    credentials = json.loads((proc.data_dir / "runtime-credentials.json").read_text())
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hubbub.cli",
            *args,
            "--data-dir",
            str(proc.data_dir),
            "--store",
            "dynamodb",
            "--dynamodb-endpoint",
            info["dynamodbEndpoint"],
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    return result.stdout


async def test_operators_and_rooms_on_the_dynamodb_store(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", "--store", "dynamodb", "--no-web").start()
    try:
        token = admin(proc, "operator", "add", "dyna").strip().splitlines()[-1]
        assert "dyna" in admin(proc, "operator", "list")
        operator = await HubbubClient.connect(proc.ws_url, token=token)
        hello = await operator.request("hello")
        assert hello["user"]["role"] == "operator"
        await operator.send("room/dynamo-admin", "hello from an operator")
        await operator.close()
        assert "room/dynamo-admin" in admin(proc, "rooms")
        assert not (proc.data_dir / "local-ChatTable.sqlite3").exists()
    finally:
        proc.stop()
