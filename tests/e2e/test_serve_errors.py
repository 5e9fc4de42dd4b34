"""``hubbub serve`` refuses to start with a clear message, not a traceback, when it cannot run."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from tests.support.server import serve_to_exit


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve_to_exit("--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_mqtt_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve_to_exit("--mqtt-port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert f"mqtt {port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_template_is_named(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: [unclosed\n")
    result = serve_to_exit("--template", str(template), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert str(template) in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_handler_is_named_at_start(tmp_path: Path) -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "nowhere_to_be_found.handler",
                    "Runtime": "python3.12",
                    "CodeUri": ".",
                },
            }
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    result = serve_to_exit("--template", str(path), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "Fn: Handler nowhere_to_be_found.handler" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_trusted_proxy_is_named(tmp_path: Path) -> None:
    result = serve_to_exit("--trusted-proxy", "not-a-network", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "--trusted-proxy" in result.stderr and "not-a-network" in result.stderr
    assert "Traceback" not in result.stderr
