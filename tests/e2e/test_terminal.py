"""The terminal clients against a live server: `hubbub chat` through tmux, `hubbub tail`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from hubbub.client import HubbubClient
from tests.e2e.conftest import Connect
from tests.support.server import ServerProcess
from tests.support.waiting import eventually


@pytest.fixture
def tmux() -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required for the terminal tests (apt-get install tmux)")
    name = f"hubbub-{uuid.uuid4().hex[:8]}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "40"], check=True)
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def screen(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
    ).stdout


async def test_hubbub_chat_sends_and_receives(
    tmux: str, server: ServerProcess, connect: Connect
) -> None:
    room = f"tty{uuid.uuid4().hex[:6]}"
    command = f"{sys.executable} -m hubbub.cli chat {server.ws_url} --room {room} --nick tty"
    subprocess.run(["tmux", "send-keys", "-t", tmux, command, "Enter"], check=True)
    await eventually(lambda: "-- online" in screen(tmux), timeout=20, what="hubbub chat online")

    peer = await connect()
    await peer.register("peer")
    await peer.subscribe(f"room/{room}")
    await peer.send(f"room/{room}", "hello terminal")
    await eventually(lambda: "<peer> hello terminal" in screen(tmux), what="message shown")

    subprocess.run(["tmux", "send-keys", "-t", tmux, "hi from tmux", "Enter"], check=True)
    frame = await peer.next_event(
        lambda f: f.get("type") == "message" and f.get("nickname") == "tty"
    )
    assert frame["text"] == "hi from tmux"

    subprocess.run(["tmux", "send-keys", "-t", tmux, "/who", "Enter"], check=True)
    await eventually(lambda: "* here:" in screen(tmux), what="/who answered")
    assert "tty" in screen(tmux).split("* here:")[-1]
    subprocess.run(["tmux", "send-keys", "-t", tmux, "/quit", "Enter"], check=True)


async def test_hubbub_tail_prints_json_lines(server: ServerProcess, connect: Connect) -> None:
    topic = f"room/tail{uuid.uuid4().hex[:6]}"
    writer: HubbubClient = await connect()
    await writer.register("writer")
    first = await writer.send(topic, "before tail")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubbub.cli", "tail", topic, "--url", server.ws_url, "--since", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert (line["seq"], line["text"]) == (first["seq"], "before tail")
        await writer.send(topic, "after tail")
        line = json.loads(proc.stdout.readline())
        assert line["text"] == "after tail"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
