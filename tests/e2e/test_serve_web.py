"""Which templates get hubbub's web client from ``hubbub serve``: only hubbub's own, and not with
``--no-web``; every other server answers ``/`` with the list of what it serves."""

from __future__ import annotations

import json
import queue
import urllib.request
from pathlib import Path

from tests.support.server import ServerProcess


class _Tee(queue.Queue[str]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def put(self, item: str, block: bool = True, timeout: float | None = None) -> None:
        self.seen.append(item)
        super().put(item, block, timeout)


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get_content_type(), response.read()


def _serve(tmp_path: Path, *args: str) -> tuple[ServerProcess, _Tee]:
    proc = ServerProcess(tmp_path / "data", *args)
    tee = _Tee()
    proc.lines = tee
    return proc.start(), tee


def test_hubbub_with_no_web_announces_no_web_url_and_lists_its_apis(tmp_path: Path) -> None:
    proc, tee = _serve(tmp_path, "--no-web")
    try:
        assert not [line for line in tee.seen if line.startswith("hubbub: web ")]
        kind, body = _get(f"{proc.base_url}/")
        assert kind == "application/json"
        index = json.loads(body)
        assert [api["url"] for api in index["websocketApis"]] == [proc.ws_url]
        assert "$connect" in index["websocketApis"][0]["routes"]
    finally:
        proc.stop()


def test_hubbub_serves_its_web_client_and_announces_it(tmp_path: Path) -> None:
    proc, tee = _serve(tmp_path)
    try:
        assert f"hubbub: web        {proc.base_url}/" in tee.seen
        kind, _ = _get(f"{proc.base_url}/")
        assert kind == "text/html"
        kind, body = _get(f"{proc.base_url}/config.json")
        assert json.loads(body) == {"websocketPath": "/ws"}
    finally:
        proc.stop()
