"""The servers under test, each started as its own process on 127.0.0.1 with a free port.

``hubbub`` runs in its default configuration (``hubbub serve``: the repository's template, SQLite,
four execution environments per function), except that the per-connection send rate limit is
lifted with an env-vars file (one publisher connection carries the whole load). The other two are
bench/peers/ws_broadcast.py and bench/peers/sio_server.py. ``hubbub-nomqtt`` is the same server
deployed without the MQTT edge (``EnableMqtt=false``, a parameter of the template): its fan-out
does not publish each message to IoT Core, so W1 shows what that publish costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["EDGE_QUOTAS", "LIFTED_LIMITS", "PEERS", "PeerProcess", "PeerSpec"]

LIFTED_LIMITS = {
    "SEND_RATE_PER_SECOND": "100000",
    "SEND_BURST": "100000",
    # the load generator floods a few rooms on purpose: the per-room ceiling is lifted too
    "TOPIC_SEND_RATE_PER_SECOND": "100000",
    "TOPIC_SEND_BURST": "100000",
    # every load-generator client registers from 127.0.0.1
    "GUEST_REGISTER_RATE_PER_SECOND": "100000",
    "GUEST_REGISTER_BURST": "100000",
}
EDGE_QUOTAS = (
    *("--quota", "new_connections_per_address_per_s=0"),
    *("--quota", "connections_per_address=0"),
    *("--quota", "unfinished_heads_per_address=0"),
)
"""The load generator is one address opening thousands of connections: the per-address limits,
meant for strangers, are lifted (the account's 500 new connections per second still holds)."""
_READY = re.compile(r"ready (?:http://127\.0\.0\.1:)?(\d+)")


@dataclass(frozen=True)
class PeerSpec:
    name: str
    label: str
    adapter: str
    persists: bool
    parameters: tuple[str, ...] = ()
    """Template parameter overrides (``KEY=VALUE``) for hubbub."""

    def command(self, workdir: Path, log_level: str) -> list[str]:
        if self.adapter == "hubbub":
            env_file = workdir / "env-vars.json"
            env_file.write_text(json.dumps({"Parameters": LIFTED_LIMITS}))
            return [
                sys.executable,
                "-m",
                "hubbub.cli",
                "serve",
                "--mqtt-port",
                "0",
                "--port",
                "0",
                "--data-dir",
                str(workdir / "data"),
                "--log-level",
                log_level,
                "--env-vars",
                str(env_file),
                *EDGE_QUOTAS,
                *(["--parameter-overrides", *self.parameters] if self.parameters else []),
            ]
        module = {"websockets": "bench.peers.ws_broadcast", "socketio": "bench.peers.sio_server"}
        return [sys.executable, "-m", module[self.name]]


PEERS: dict[str, PeerSpec] = {
    "websockets": PeerSpec("websockets", "websockets broadcast (bare)", "websockets", False),
    "socketio": PeerSpec("socketio", "python-socketio on uvicorn", "socketio", False),
    "hubbub": PeerSpec("hubbub", "hubbub serve (default)", "hubbub", True),
    "hubbub-nomqtt": PeerSpec(
        "hubbub-nomqtt",
        "hubbub serve without the MQTT edge",
        "hubbub",
        True,
        ("EnableMqtt=false",),
    ),
    # LAMBDA only: the two functions the default template leaves idle get their first event
    "hubbub-optional": PeerSpec(
        "hubbub-optional",
        "hubbub serve with email and every room above the chunk threshold",
        "hubbub",
        True,
        ("MailSender=bench@example.com", "FanOutChunkThreshold=1"),
    ),
}


def _lift_fd_limit() -> None:  # runs in the child before exec: the server may hold 10k sockets
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class PeerProcess:
    def __init__(self, spec: PeerSpec, workdir: Path, *, log_level: str = "WARNING") -> None:
        self.spec = spec
        self.workdir = workdir
        self.log_level = log_level
        self.port = 0
        self.mqtt_port = 0
        """hubbub's MQTT TCP port, as ``hubbub serve`` announces it (0 for other peers)."""
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = workdir / f"{spec.name}-server.log"

    async def start(self, timeout: float = 60.0) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        root = Path(__file__).resolve().parents[2]  # noqa: ASYNC240  (no I/O: a path)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
        self.proc = await asyncio.create_subprocess_exec(
            *self.spec.command(self.workdir, self.log_level),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=str(root),
            env=env,
            preexec_fn=_lift_fd_limit,
        )
        log.close()
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"{self.spec.name} exited; see {self.log_path}")
                if line.startswith("hubbub: mqtt-tcp "):
                    self.mqtt_port = int(line.rsplit(":", 1)[1])
                found = _READY.search(line)
                if found:
                    self.port = int(found.group(1))
                    break
        self._drain = asyncio.create_task(self._drain_stdout())
        return self.port

    async def _drain_stdout(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self) -> None:
        """Kill the whole tree at once (a graceful drain of 10,000 connections is not measured)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.proc.wait()
