"""Where ``hubbub operator remove`` closes the removed operator's connections (``admin_hangup``):
the stack's ``@connections`` with ``--aws --connections-url``, the running runtime's otherwise."""

from __future__ import annotations

import json
from pathlib import Path

from hubbub.admin import Target, admin_hangup
from hubbub.push.aws.adapter import ApiGatewayPush

TEMPLATE = Path("template.yaml")


def test_on_aws_the_connections_url_given_is_used(tmp_path: Path) -> None:
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/ws"
    hangup = admin_hangup(Target(TEMPLATE, tmp_path, aws=True, connections_url=url))
    assert isinstance(hangup, ApiGatewayPush)
    assert hangup._endpoint_url == url
    hangup.close()


def test_on_aws_without_a_connections_url_there_is_nothing_to_close_with(tmp_path: Path) -> None:
    assert admin_hangup(Target(TEMPLATE, tmp_path, aws=True)) is None


def test_locally_the_running_runtime_is_found_in_the_data_dir(tmp_path: Path) -> None:
    assert admin_hangup(Target(TEMPLATE, tmp_path)) is None  # no runtime has run here
    (tmp_path / "runtime-info.json").write_text(
        json.dumps(
            {"connections": {"WebSocketApi": "http://127.0.0.1:9/ws"}, "region": "us-east-1"}
        )
    )
    (tmp_path / "runtime-credentials.json").write_text(
        json.dumps({"aws_access_key_id": "AKIALOCALX", "aws_secret_access_key": "s"})
    )
    hangup = admin_hangup(Target(TEMPLATE, tmp_path))
    assert isinstance(hangup, ApiGatewayPush)
    client = hangup._api()
    assert client.meta.endpoint_url == "http://127.0.0.1:9/ws"
    assert client._request_signer._credentials.access_key == "AKIALOCALX"
    hangup.close()
